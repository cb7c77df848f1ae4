"""Triton kernel: lightning-indexer scores for a block of queries, one tile of keys at a time.

Computes, like `dsa_core.index_scores` (bf16/fp16 inputs, fp32 accumulate):
    I[b, s, t] = Σ_j w[b,s,j] · ReLU(q[b,s,j,:] · k[b,t,:])   for t ≤ position(s) = T - S + s,  -inf after
Layout trick (as DeepGEMM's `fp8_mqa_logits`): BQ queries × h heads form the 128 (or 256) columns
of one tl.dot with a key tile [BN, d], so the query block stays on chip while keys stream through.
Per tile (`score_tile`, shared with fused_topk_triton.py so both compute the same bits):
acc [BN, BQ·h] = K·Qᵀ on tensor cores → ReLU → × w per column → sum over the h columns of each query
(inside a thread and its quad: no shared-memory reduction) → scores [BN, BQ].
FP8 (DeepSeek's production form, optional): q and k arrive as e4m3 with q's per-(token, head) scale
folded into w and k's per-token scale `ks` applied to acc: ReLU(s·x) = s·ReLU(x) for s > 0.
The grid is (query blocks, key groups, batch): every program owns KEYS_PER_PROG keys, so one decode
query still spreads over the whole GPU. The caller passes one query chunk at a time, so at most
[B, chunk, T] fp32 scores exist: never the T×T matrix. Each program also writes
  - the max and min of its scores per key group (gmax/gmin [B, S, groups]): the value range of a row
    for the histogram top-k (topk_triton.py, the fallback);
  - optionally (MAXG = G ≥ 2) the max of every G consecutive keys (mx [B, S, T/G]): the K-th largest
    of these maxima is a safe threshold for the selection (fused_topk_triton.py).
"""

import torch
import triton
import triton.language as tl

KEYS_PER_PROG = 4096


@triton.jit
def score_tile(k_row, ks_row, sk_t, qt, w, n0, T, qpos, BN: tl.constexpr, BQ: tl.constexpr, H: tl.constexpr,
               D: tl.constexpr, FP8: tl.constexpr):  # fmt: skip
    """Scores of keys n0..n0+BN-1 for the block's BQ queries -> ([BN, BQ] fp32, -inf where unseen; keys)."""
    keys = n0 + tl.arange(0, BN)  # key positions [BN]
    dims = tl.arange(0, D)
    kt = tl.load(k_row + keys[:, None] * sk_t + dims[None, :], mask=(keys < T)[:, None], other=0.0)  # [BN, D]
    acc = tl.dot(kt, qt)  # [BN, BQ*H] fp32
    if FP8:  # per-key scale of the FP8 keys (q's is inside w)
        acc = acc * tl.load(ks_row + keys, mask=keys < T, other=0.0)[:, None]
    acc = tl.maximum(acc, 0.0) * w[None, :]  # ReLU, then weight
    sc = tl.sum(tl.reshape(acc, (BN, BQ, H)), axis=2)  # head sum [BN, BQ]
    seen = keys[:, None] <= qpos[None, :]  # causal [BN, BQ]
    return tl.where(seen, sc, float("-inf")), keys


@triton.jit
def load_query_block(q_ptr, w_ptr, b, s0, S, sq_b, sq_s, sw_b, sw_s, H: tl.constexpr, D: tl.constexpr,
                     BQ: tl.constexpr):  # fmt: skip
    """The block's queries as the N side of the dot: qt [D, BQ*H] (column = query * H + head), w [BQ*H]."""
    cols_q = tl.arange(0, BQ * H)
    col_q = s0 + cols_q // H
    dims = tl.arange(0, D)
    qt = tl.load(
        q_ptr + b * sq_b + col_q[None, :] * sq_s + (cols_q % H)[None, :] * D + dims[:, None],
        mask=(col_q < S)[None, :],
        other=0.0,
    )  # [D, BQ*H]
    w = tl.load(w_ptr + b * sw_b + col_q * sw_s + cols_q % H, mask=col_q < S, other=0.0).to(tl.float32)
    return qt, w


@triton.jit
def _index_scores_kernel(
    q_ptr, k_ptr, w_ptr, ks_ptr, out_ptr, gmax_ptr, gmin_ptr, mx_ptr,
    S, T, q_pos0,  # queries in this launch, keys, position of query row 0
    sq_b, sq_s, sk_b, sk_t, sw_b, sw_s, sks_b, so_b, so_s, sg_b, sg_s, sm_b, sm_s,
    H: tl.constexpr, D: tl.constexpr, BQ: tl.constexpr, BN: tl.constexpr, KPP: tl.constexpr,
    FP8: tl.constexpr, MAXG: tl.constexpr,
):  # fmt: skip
    pid_q, pid_n, b = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    s0 = pid_q * BQ
    last_pos = q_pos0 + tl.minimum(s0 + BQ, S) - 1  # position of the block's last query
    n_start = pid_n * KPP
    if n_start > last_pos:  # the whole key group is in the future
        return
    qt, w = load_query_block(q_ptr, w_ptr, b, s0, S, sq_b, sq_s, sw_b, sw_s, H, D, BQ)
    qi = s0 + tl.arange(0, BQ)  # query rows [BQ]
    qpos = q_pos0 + qi  # their positions
    n_end = tl.minimum(tl.minimum(n_start + KPP, T), last_pos + 1)
    hi = tl.full([BQ], float("-inf"), tl.float32)
    lo = tl.full([BQ], float("inf"), tl.float32)
    for n0 in range(n_start, n_end, BN):
        sc, keys = score_tile(
            k_ptr + b * sk_b, ks_ptr + b * sks_b, sk_t, qt, w, n0, T, qpos, BN, BQ, H, D, FP8
        )
        hi = tl.maximum(hi, tl.max(sc, axis=0))
        lo = tl.minimum(lo, tl.min(tl.where(sc == float("-inf"), float("inf"), sc), axis=0))
        tl.store(
            out_ptr + b * so_b + qi[:, None] * so_s + keys[None, :],
            tl.trans(sc),
            mask=(qi < S)[:, None] & (keys < T)[None, :],
        )  # [BQ, BN]: transposed so that a warp's stores run along keys (coalesced)
        if MAXG > 1:  # max of each G consecutive keys: [BN/G, BQ]
            sub = n0 // MAXG + tl.arange(0, BN // MAXG)
            m = tl.max(tl.reshape(sc, (BN // MAXG, MAXG, BQ)), axis=1)
            mask = (qi < S)[None, :] & (sub < tl.cdiv(T, MAXG))[:, None]  # the buffer ends at T/G
            tl.store(mx_ptr + b * sm_b + qi[None, :] * sm_s + sub[:, None], m, mask=mask)
    g = b * sg_b + qi * sg_s + pid_n
    tl.store(gmax_ptr + g, hi, mask=qi < S)
    tl.store(gmin_ptr + g, lo, mask=qi < S)


def index_scores_into(
    q, k, w, out, gmax, gmin, q_pos0, bq, bn=64, kpp=KEYS_PER_PROG, num_warps=4, num_stages=3, k_scale=None,
    maxima=None, g=0,
):  # fmt: skip
    """Launch: q [B,S,h,d], k [B,T,d], w [B,S,h] -> out [B,S,≥T] fp32, gmax/gmin [B,S,groups];
    with g ≥ 2 also maxima [B,S,≥T/g] (max of each g consecutive keys; g divides bn).

    FP8 inputs (float8_e4m3fn q and k) need k_scale [B,T] fp32 (and q's scale already inside w).
    Entries of `out` after a query's position are -inf up to the end of its last key tile and are left
    untouched beyond; readers must stop at position + 1 (the top-k kernels do).
    """
    B, S, h, d = q.shape
    T = k.shape[1]
    assert q.stride(3) == 1 and q.stride(2) == d and k.stride(2) == 1 and w.stride(2) == 1
    groups = triton.cdiv(T, kpp)
    assert gmax.shape[-1] >= groups and out.stride(2) == 1 and (g < 2 or bn % g == 0)
    fp8 = k_scale is not None
    ks = k_scale if fp8 else w  # unused pointer when not FP8
    mx = maxima if g > 1 else gmax  # unused pointer without maxima
    _index_scores_kernel[(triton.cdiv(S, bq), groups, B)](
        q, k, w, ks, out, gmax, gmin, mx, S, T, q_pos0,
        q.stride(0), q.stride(1), k.stride(0), k.stride(1), w.stride(0), w.stride(1), ks.stride(0),
        out.stride(0), out.stride(1), gmax.stride(0), gmax.stride(1), mx.stride(0), mx.stride(1),
        H=h, D=d, BQ=bq, BN=bn, KPP=kpp, FP8=fp8, MAXG=g if g > 1 else 0,
        num_warps=num_warps, num_stages=num_stages,
    )  # fmt: skip
    return out


def index_scores_triton(q, k, w, bq, **kw):
    """Whole score matrix (for tests and small inputs): -> fp32 [B,S,T], -inf after each position."""
    B, S, h, d = q.shape
    T = k.shape[1]
    out = torch.full((B, S, T), float("-inf"), device=q.device, dtype=torch.float32)
    groups = triton.cdiv(T, kw.get("kpp", KEYS_PER_PROG))
    gmax = torch.empty(B, S, groups, device=q.device, dtype=torch.float32)
    gmin = torch.empty_like(gmax)
    index_scores_into(q, k, w, out, gmax, gmin, T - S, bq, **kw)
    return out
