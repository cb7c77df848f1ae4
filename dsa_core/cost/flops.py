"""Arithmetic cost model: dense causal attention vs DSA, per token and per sequence (no torch).

Dense:  C(t) = A_d·t              A = 2·h·(d_qk + d_v) FLOPs per (query, key) pair
DSA:    C(t) = I·t + A_s·min(t,k) I = 2·H_I·d_I, the lightning indexer's q·k
Counting follows FlashMLA (tests/lib.py count_flop_and_mem_vol: only the QK and PV matmuls, 2 FLOPs
per multiply-add) and DeepGEMM (indexer: only q·k; ReLU, head weights and head sum are left out,
they add 1/d_I more). Projections are O(L) and left out (the indexer adds its own: wq_b, wk,
weights_proj), as in docs/sources.md §1.
Cache sizes per token per layer in DeepSeek's FP8 format (docs/sources.md §3): MLA latent 512 FP8
+ 4 fp32 scales + 64 bf16 RoPE = 656 B; indexer key 128 FP8 + 1 fp32 scale = 132 B.
Every number here is per layer unless a key says otherwise; multiply by `shape.n_layers`.
Sources: docs/sources.md §1-3 (counting, the 671B config, cache layouts); closed forms in docs/cost.md.
"""

import math

from dsa_core.cost.shapes import (  # noqa: F401 (docs/cost.md names these cost.V32_MQA, cost.T1, ...)
    SHAPES,
    SMOLLM2,
    T1,
    TEACHING_SHAPE,
    V32_MHA,
    V32_MQA,
    AttnShape,
    shape_from_config,
)


def pair_flops(shape):
    """FLOPs per (query, key) pair: core attention A and indexer I (docs/sources.md §1)."""
    return {
        "attention/core_flops_per_pair": 2 * shape.n_heads * (shape.qk_head_dim + shape.v_head_dim),
        "indexer/qk_flops_per_pair": 2 * shape.index_n_heads * shape.index_head_dim,
    }


def _fp8_bytes(n_fp8, n_plain):
    return n_fp8 + 4 * math.ceil(n_fp8 / 128) + 2 * n_plain  # e4m3 + fp32 scale per 128 + bf16


def cache_bytes_per_token(shape, fmt="fp8"):
    """Bytes cached per token per layer; fmt 'fp8' (DeepSeek's layout) or 'bf16'."""
    if fmt == "fp8":
        kv, idx = _fp8_bytes(shape.kv_fp8_dims, shape.kv_plain_dims), _fp8_bytes(shape.index_head_dim, 0)
    elif fmt == "bf16":
        kv, idx = 2 * (shape.kv_fp8_dims + shape.kv_plain_dims), 2 * shape.index_head_dim
    else:
        raise ValueError(f"fmt must be 'fp8' or 'bf16', got {fmt!r}")
    return {"kv_cache/bytes_per_token": kv, "index_cache/bytes_per_token": idx}


def cache_bytes(shape, L, fmt="fp8"):
    """Whole-model cache for L tokens (all n_layers): {'kv_cache/bytes', 'index_cache/bytes'}."""
    per = cache_bytes_per_token(shape, fmt)
    return {k.replace("_per_token", ""): v * L * shape.n_layers for k, v in per.items()}


def visible_pairs(S, T):
    """(query, key) pairs with key ≤ query position, for S queries at positions T-S .. T-1."""
    first = T - S + 1  # keys visible to the first query
    return S * (first + T) // 2


def selected_pairs(S, T, K):
    """(query, key) pairs a top-K selection really attends: Σ over the S queries of min(visible, K)."""
    a, b = T - S + 1, T  # the queries see a .. b keys
    top = min(b, K - 1)  # queries that see fewer than K keys attend all of them
    short = (a + top) * (top - a + 1) // 2 if top >= a else 0
    return short + K * (b - max(a, K) + 1 if b >= max(a, K) else 0)


def _queries(L, phase):
    """Queries of a phase at context L: a prefill of L tokens (L queries), or one decode step (1)."""
    if phase not in ("prefill", "decode"):
        raise ValueError(f"phase must be 'prefill' or 'decode', got {phase!r}")
    return L if phase == "prefill" else 1


def _pairs(L, phase):
    return visible_pairs(_queries(L, phase), L)


def _attended(L, k, phase):
    return selected_pairs(_queries(L, phase), L, k)


def dense_cost(shape, L, phase="prefill", kv_fmt="bf16"):
    """Dense causal attention: prefill of L tokens, or one decode step at context L."""
    pairs = _pairs(L, phase)
    macs = shape.n_heads * (shape.qk_head_dim + shape.v_head_dim) * pairs
    out = {"attention/core_macs": macs, "total_macs": macs, "total_flops": 2 * macs}
    if phase == "decode":
        out["decode/read_bytes"] = cache_bytes_per_token(shape, kv_fmt)["kv_cache/bytes_per_token"] * L
    return out


def dsa_cost(shape, L, phase="prefill", indexer_weight=1.0, kv_fmt="fp8"):
    """DSA: indexer over every visible key, top-k selection, attention over min(t, k) keys.

    indexer_weight = 0.5 counts an FP8 indexer MAC at half a bf16 MAC (Hopper FP8 runs at 2x).
    """
    pairs, att = _pairs(L, phase), _attended(L, shape.index_topk, phase)
    idx_macs = shape.index_n_heads * shape.index_head_dim * pairs
    core = shape.n_heads * (shape.qk_head_dim + shape.v_head_dim) * att
    total = indexer_weight * idx_macs + core
    out = {
        "indexer/qk_macs": idx_macs,
        "selection/compares": pairs,  # one pass over each visible logit
        "selection/logit_bytes": 4 * pairs,  # fp32 logits read once by top-k
        "attention/core_macs": core,
        "total_macs": total,
        "total_flops": 2 * total,
    }
    if phase == "decode":
        b = cache_bytes_per_token(shape, kv_fmt)
        out["decode/read_bytes"] = b["index_cache/bytes_per_token"] * L + b["kv_cache/bytes_per_token"] * att
    return out


def curves(dense_shape, dsa_shape, lengths, phase="prefill", indexer_weight=1.0):
    """Columns for plots and tables: {'L': [...], 'dense/<key>': [...], 'dsa/<key>': [...], 'ratio'}."""
    out = {"L": list(lengths)}
    for tag, fn, shape, kw in (
        ("dense", dense_cost, dense_shape, {}),
        ("dsa", dsa_cost, dsa_shape, {"indexer_weight": indexer_weight}),
    ):
        rows = [fn(shape, L, phase, **kw) for L in lengths]
        for key in rows[0]:
            out[f"{tag}/{key}"] = [r[key] for r in rows]
    out["ratio"] = [d / s for d, s in zip(out["dense/total_flops"], out["dsa/total_flops"])]
    return out


def _aid(dense_shape, dsa_shape, indexer_weight):
    Ad = pair_flops(dense_shape)["attention/core_flops_per_pair"]
    As = pair_flops(dsa_shape)["attention/core_flops_per_pair"]
    return Ad, As, indexer_weight * pair_flops(dsa_shape)["indexer/qk_flops_per_pair"]


def crossover_token(dense_shape, dsa_shape, indexer_weight=1.0):
    """Position t* beyond which one query costs fewer FLOPs with DSA: A_s·k / (A_d − I)."""
    Ad, As, I = _aid(dense_shape, dsa_shape, indexer_weight)
    return math.inf if Ad <= I else As * dsa_shape.index_topk / (Ad - I)


def crossover_sequence(dense_shape, dsa_shape, indexer_weight=1.0):
    """Length L* beyond which a whole prefill costs fewer FLOPs (docs/cost.md, x = L/k)."""
    Ad, As, I = _aid(dense_shape, dsa_shape, indexer_weight)
    if Ad <= I:
        return math.inf
    x = (As + math.sqrt(max(As * As - As * (Ad - I), 0.0))) / (Ad - I)
    return x * dsa_shape.index_topk


def crossover_numeric(
    dense_shape, dsa_shape, phase="prefill", indexer_weight=1.0, key="total_flops", kv_fmt=("bf16", "fp8")
):
    """Smallest integer L where DSA's `key` ≤ dense's, by bisection on the exact sums (a check)."""

    def cheaper(L):
        kw_d = {"kv_fmt": kv_fmt[0]} if phase == "decode" else {}
        kw_s = {"kv_fmt": kv_fmt[1]} if phase == "decode" else {}
        return (
            dsa_cost(dsa_shape, L, phase, indexer_weight, **kw_s)[key]
            <= dense_cost(dense_shape, L, phase, **kw_d)[key]
        )

    lo = max(dsa_shape.index_topk, 1)  # below k DSA only adds work (unless A_s + I < A_d)
    if cheaper(1):
        return 1
    hi = 2 * lo
    while not cheaper(hi):
        if hi > 2**40:
            return math.inf
        lo, hi = hi, 2 * hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if cheaper(mid) else (mid, hi)
    return hi


def crossover_decode_bytes(shape, dense_fmt="bf16", dsa_fmt="fp8"):
    """Context t* beyond which a decode step reads fewer cache bytes with DSA: kv·k / (kv_d − idx).

    The closed form assumes t ≥ k. If it lands below k (671B, FP8 DSA vs bf16 dense: 1,317), DSA
    reads fewer bytes at every t, only because its cache is FP8; `crossover_numeric` then says 1.
    """
    kv_d = cache_bytes_per_token(shape, dense_fmt)["kv_cache/bytes_per_token"]
    b = cache_bytes_per_token(shape, dsa_fmt)
    gap = kv_d - b["index_cache/bytes_per_token"]
    return math.inf if gap <= 0 else b["kv_cache/bytes_per_token"] * shape.index_topk / gap


def asymptotic_ratio(dense_shape, dsa_shape, indexer_weight=1.0):
    """Dense/DSA FLOP ratio as L → ∞ (per token and per sequence): A_d / I."""
    Ad, _, I = _aid(dense_shape, dsa_shape, indexer_weight)
    return Ad / I
