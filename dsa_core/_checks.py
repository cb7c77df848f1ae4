"""Argument checks shared by the reference files, so that each of them opens with its math.

Every check raises ValueError with a message that names the problem (bad shapes, NaN, a k that is
not a positive int); none of them changes a tensor.
"""

import numbers

import torch


def check_finite(name, *xs):
    """Raise ValueError if a tensor holds NaN or inf. A sum is NaN or ±inf whenever one of its terms is,
    so one reduction (no temporary tensors) screens each tensor; only a sum that is not finite is looked
    at element by element (it may have overflowed from finite values)."""
    for x in xs:
        if not torch.isfinite(x.sum()) and not torch.isfinite(x).all():
            raise ValueError(f"{name} contains NaN or inf values")


def check_qkv(q, k, v=None, finite=True):
    """Validate q [B,S,H,D], k [B,T,H_kv,D], v [B,T,H_kv,Dv]; raise ValueError naming the problem.
    finite=False leaves out the NaN/inf pass over k and v (sparse attention checks the rows it gathers)."""
    for name, x in (("q", q), ("k", k), ("v", v)):
        if x is not None and x.dim() != 4:
            raise ValueError(f"{name} must be 4-d [B, S|T, heads, dim], got shape {tuple(x.shape)}")
    (B, S, H, D), (Bk, T, H_kv, Dk) = q.shape, k.shape
    if (Bk, Dk) != (B, D):
        raise ValueError(f"shape mismatch: q {tuple(q.shape)} vs k {tuple(k.shape)} (batch, head dim)")
    if H % H_kv:
        raise ValueError(f"H={H} query heads is not divisible by H_kv={H_kv} key/value heads")
    if S > T:
        raise ValueError(f"more queries (S={S}) than keys (T={T})")
    if v is not None and v.shape[:3] != k.shape[:3]:
        raise ValueError(f"shape mismatch: k {tuple(k.shape)} vs v {tuple(v.shape)}")
    for name, x in (("q", q), ("k", k), ("v", v)):
        if x is not None and (finite or name == "q"):
            check_finite(name, x)


def check_sparse_args(q, k, v, topk_indices):
    """check_qkv and check_indices for sparse attention, without reading all T keys and values: the
    NaN/inf check of k and v runs on the K rows each query gathers (check_finite on them), so a decode
    step reads O(K) cached rows, not the whole cache."""
    check_qkv(q, k, v, finite=False)
    check_indices(topk_indices, q.shape[0], q.shape[1], k.shape[1])


def check_index_inputs(q, k, w):
    """Validate the indexer's q [B,S,h,d], k [B,T,d], w [B,S,h]; raise ValueError naming the problem."""
    if q.dim() != 4 or k.dim() != 3 or w.dim() != 3:
        raise ValueError(
            f"expected q [B,S,h,d], k [B,T,d], w [B,S,h]; got {tuple(q.shape)}, {tuple(k.shape)}, "
            f"{tuple(w.shape)}"
        )
    B, S, h, d = q.shape
    if k.shape[0] != B or k.shape[2] != d or w.shape != (B, S, h):
        raise ValueError(f"shape mismatch: q {tuple(q.shape)}, k {tuple(k.shape)}, w {tuple(w.shape)}")
    if S > k.shape[1]:
        raise ValueError(f"more queries (S={S}) than keys (T={k.shape[1]})")
    for name, x in (("q", q), ("k", k), ("w", w)):
        check_finite(name, x)


def check_topk_args(scores, k):
    """Validate select_topk's scores [B,S,T] (no NaN, no +inf) and k (a positive int) -> int(k)."""
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k <= 0:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if scores.dim() != 3:
        raise ValueError(f"scores must be [B, S, T], got shape {tuple(scores.shape)}")
    if torch.isnan(scores).any() or torch.isposinf(scores).any():
        raise ValueError("scores contain NaN or +inf values")
    return int(k)


def check_indices(topk_indices, B, S, T):
    """Validate topk_indices [B,S,K]: integer, values in [-1, T); raise ValueError naming the problem."""
    if topk_indices.dim() != 3 or topk_indices.shape[:2] != (B, S):
        raise ValueError(f"topk_indices must be [B={B}, S={S}, K], got {tuple(topk_indices.shape)}")
    if topk_indices.dtype.is_floating_point or topk_indices.shape[-1] == 0:
        raise ValueError(f"topk_indices must be a non-empty integer tensor, got {topk_indices.dtype}")
    if ((topk_indices < -1) | (topk_indices >= T)).any():
        raise ValueError(f"topk_indices must lie in [-1, T={T})")
