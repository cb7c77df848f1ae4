"""Row-block twins of two baselines in dsa_core/metrics.py, for long texts in the app.

`metrics.window_topk(T, k)` and `metrics.random_topk(T, k)` build their whole [T, k] (or [T, T])
result at once: at T = k = 8,192 that is several int64 temporaries of 537 MB each. These twins give
the same rows one query block at a time, so memory stays O(rows * T):

  window_rows(T, k, s0, s1, n_sinks)  == metrics.window_topk(T, k, n_sinks)[s0:s1]
  random_ranked_rows(T, seed, rows)   yields (s0, s1, metrics.random_topk(T, T, seed)[s0:s1])
  sparse_probs_via_dense(q, k, idx)   == sparse.sparse_attention_probs(q, k, idx), to float rounding
  overlap_rows(a, b)                  == metrics.topk_overlap(a, b), without its two [S, T] masks

Proved equal to the reference by tests/analysis/test_ranked.py (every row, several T, k and block sizes).
"""

import torch

from dsa_core.dense import attention_logits, causal_mask
from dsa_core.fast.cpu import select_topk_fast
from dsa_core.topk import select_topk


def window_rows(T, k, s0, s1, n_sinks=4):
    """Rows s0..s1-1 of window_topk(T, k, n_sinks): the first n_sinks tokens + the most recent ones.

    -> int64 [s1-s0, k], positions ascending, -1 where fewer than k are visible.
    """
    if k <= 0 or n_sinks < 0:
        raise ValueError(f"k must be positive and n_sinks non-negative, got k={k}, n_sinks={n_sinks}")
    n_sinks = min(n_sinks, k)
    t = torch.arange(s0, min(s1, T))[:, None]  # [S, 1] query positions
    slot = torch.arange(k)[None, :]  # [1, k]
    idx = torch.where(slot < n_sinks, slot, t - k + 1 + slot)  # sinks, then the last k - n_sinks up to t
    idx = torch.where(t + 1 <= k, slot, idx)  # a short prefix: everything visible, in order [S, k]
    return idx.masked_fill_(idx > t, -1)


def random_ranked_rows(T, seed=0, rows=1024, depth=None):
    """random_topk(T, T, seed) one query block at a time: yields (s0, s1, int64 [s1-s0, s1]) with the
    block's picks over keys 0..s1-1 (later slots are all -1). torch's CPU generator draws serially, so
    row blocks of one generator are the rows of the [T, T] draw. depth: only the first `depth` picks
    of each row ([s1-s0, min(depth, s1)]), by the partial twin fast.cpu.select_topk_fast."""
    g = torch.Generator().manual_seed(seed)
    for s0 in range(0, T, rows):
        s1 = min(s0 + rows, T)
        scores = torch.rand(s1 - s0, T, generator=g)[:, :s1]  # [S, s1] the same numbers as the full draw
        scores = scores.masked_fill(~causal_mask(s1 - s0, s1), float("-inf"))
        if depth is None:
            yield s0, s1, select_topk(scores[None], s1)[0]  # [S, s1]
        else:
            yield s0, s1, select_topk_fast(scores[None], min(depth, s1))[0]  # [S, min(depth, s1)]


def sparse_probs_via_dense(q, k, topk_indices):
    """== sparse.sparse_attention_probs(q, k, topk_indices) (to float rounding): the same softmax over
    the selected slots, but the logits come from one dense matrix product (dense.attention_logits)
    and are then picked, instead of gathering K keys per query. Cheaper once K is more than about
    T / 48 (BLAS beats the gather).

    q [B,S,H,D] (queries aligned to the end of the keys), k [B,T,H_kv,D], topk_indices [B,S,K]
    -> fp32 [B,S,H,K], 0 at empty (-1) or future slots.
    """
    B, S, H, _ = q.shape
    T = k.shape[1]
    logits = attention_logits(q, k)  # [B,H,S,T]
    picked = logits.gather(-1, topk_indices.clamp(min=0)[:, None].expand(B, H, S, -1))  # [B,H,S,K]
    query_pos = torch.arange(T - S, T)[:, None]  # [S,1]
    valid = (topk_indices >= 0) & (topk_indices <= query_pos)  # [B,S,K]
    picked = picked.masked_fill_(~valid[:, None], float("-inf"))
    p = picked.softmax(dim=-1).nan_to_num_(0.0)  # a row with nothing selected gives 0, not NaN
    return p.permute(0, 2, 1, 3)  # [B,S,H,K]


def overlap_rows(a_idx, b_idx):
    """== metrics.topk_overlap(a_idx, b_idx) for [S,K] selections without repeated positions (what
    top-k gives): |A ∩ B| / max(|A|, |B|) per query, -1 ignored. The reference builds two [S,T]
    boolean masks (67M cells each at 8,192 tokens); this sorts b and looks each of a's picks up in it:
    O(S·K·log K). -> [S] float32."""
    b_sorted = b_idx.sort(dim=-1).values  # [S,K] (-1 slots first)
    at = torch.searchsorted(b_sorted, a_idx).clamp(max=b_idx.shape[-1] - 1)  # [S,K]
    both = ((b_sorted.gather(-1, at) == a_idx) & (a_idx >= 0)).sum(-1).float()  # [S]
    size = torch.maximum((a_idx >= 0).sum(-1), (b_idx >= 0).sum(-1)).clamp(min=1).float()  # [S]
    return both / size
