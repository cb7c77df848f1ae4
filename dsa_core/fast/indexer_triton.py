"""Triton kernel: lightning-indexer scores for a block of queries, one tile of keys at a time.

Computes, like `dsa_core.index_scores` (bf16/fp16 inputs, fp32 accumulate):
    I[b, s, t] = Σ_j w[b,s,j] · ReLU(q[b,s,j,:] · k[b,t,:])   for t ≤ position(s) = T - S + s,  -inf after
Layout trick (as DeepGEMM's `fp8_mqa_logits`): BQ queries × h heads form the 128 (or 256) columns
of one tl.dot with a key tile [BN, d], so the query block stays on chip while keys stream through.
Per tile: acc [BN, BQ·h] = K·Qᵀ on tensor cores → ReLU → × w per column → sum over the h columns of
each query (inside a thread and its quad: no shared-memory reduction) → [BN, BQ] scores.
FP8 (DeepSeek's production form, optional): q and k arrive as e4m3 with q's per-(token, head) scale
folded into w and k's per-token scale `ks` applied to acc: ReLU(s·x) = s·ReLU(x) for s > 0.
The grid is (query blocks, key groups, batch): every program owns
KEYS_PER_PROG keys, so one decode query still spreads over the whole GPU.
The caller passes one query chunk at a time (plan.query_chunks), so at most [B, chunk, T] fp32
scores exist: never the T×T matrix. Each program also writes the max and min of its scores
(gmax/gmin [B, S, groups]): the top-k kernel uses them as the value range of a row for free.
"""

import torch
import triton
import triton.language as tl

KEYS_PER_PROG = 4096


@triton.jit
def _index_scores_kernel(
    q_ptr,
    k_ptr,
    w_ptr,
    ks_ptr,
    out_ptr,
    gmax_ptr,
    gmin_ptr,
    S,
    T,
    q_pos0,  # queries in this launch, keys, position of query row 0
    sq_b,
    sq_s,
    sk_b,
    sk_t,
    sw_b,
    sw_s,
    sks_b,
    so_b,
    so_s,
    sg_b,
    sg_s,
    H: tl.constexpr,
    D: tl.constexpr,
    BQ: tl.constexpr,
    BN: tl.constexpr,
    KPP: tl.constexpr,
    FP8: tl.constexpr,
):
    pid_q, pid_n, b = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    s0 = pid_q * BQ
    last_pos = q_pos0 + tl.minimum(s0 + BQ, S) - 1  # position of the block's last query
    n_start = pid_n * KPP
    if n_start > last_pos:  # the whole key group is in the future
        return
    cols_q = tl.arange(0, BQ * H)  # column = query_in_block * H + head
    col_q = s0 + cols_q // H
    dims = tl.arange(0, D)
    qt = tl.load(
        q_ptr + b * sq_b + col_q[None, :] * sq_s + (cols_q % H)[None, :] * D + dims[:, None],
        mask=(col_q < S)[None, :],
        other=0.0,
    )  # [D, BQ*H]
    w = tl.load(w_ptr + b * sw_b + col_q * sw_s + cols_q % H, mask=col_q < S, other=0.0).to(tl.float32)
    qi = s0 + tl.arange(0, BQ)  # query rows [BQ]
    qpos = q_pos0 + qi  # their positions
    n_end = tl.minimum(tl.minimum(n_start + KPP, T), last_pos + 1)
    hi = tl.full([BQ], float("-inf"), tl.float32)
    lo = tl.full([BQ], float("inf"), tl.float32)
    for n0 in range(n_start, n_end, BN):
        keys = n0 + tl.arange(0, BN)  # key positions [BN]
        kt = tl.load(
            k_ptr + b * sk_b + keys[:, None] * sk_t + dims[None, :], mask=(keys < T)[:, None], other=0.0
        )  # [BN, D]
        acc = tl.dot(kt, qt)  # [BN, BQ*H] fp32
        if FP8:  # per-key scale of the FP8 keys (q's is inside w)
            acc = acc * tl.load(ks_ptr + b * sks_b + keys, mask=keys < T, other=0.0)[:, None]
        acc = tl.maximum(acc, 0.0) * w[None, :]  # ReLU, then weight
        sc = tl.trans(tl.sum(tl.reshape(acc, (BN, BQ, H)), axis=2))  # head sum [BQ, BN]
        seen = keys[None, :] <= qpos[:, None]  # causal [BQ, BN]
        hi = tl.maximum(hi, tl.max(tl.where(seen, sc, float("-inf")), axis=1))
        lo = tl.minimum(lo, tl.min(tl.where(seen, sc, float("inf")), axis=1))
        sc = tl.where(seen, sc, float("-inf"))
        tl.store(
            out_ptr + b * so_b + qi[:, None] * so_s + keys[None, :],
            sc,
            mask=(qi < S)[:, None] & (keys < T)[None, :],
        )
    g = b * sg_b + qi * sg_s + pid_n
    tl.store(gmax_ptr + g, hi, mask=qi < S)
    tl.store(gmin_ptr + g, lo, mask=qi < S)


def index_scores_into(
    q, k, w, out, gmax, gmin, q_pos0, bq, bn=64, kpp=KEYS_PER_PROG, num_warps=4, num_stages=3, k_scale=None
):
    """Launch the kernel: q [B,S,h,d], k [B,T,d], w [B,S,h] -> out [B,S,≥T] fp32, gmax/gmin [B,S,groups].

    FP8 inputs (float8_e4m3fn q and k) need k_scale [B,T] fp32 (and q's scale already inside w).

    Entries of `out` after a query's position are -inf up to the end of its last key tile and are left
    untouched beyond; readers must stop at position + 1 (the top-k kernel does).
    """
    B, S, h, d = q.shape
    T = k.shape[1]
    assert q.stride(3) == 1 and q.stride(2) == d and k.stride(2) == 1 and w.stride(2) == 1
    groups = triton.cdiv(T, kpp)
    assert gmax.shape[-1] >= groups and out.stride(2) == 1
    grid = (triton.cdiv(S, bq), groups, B)
    fp8 = k_scale is not None
    ks = k_scale if fp8 else w  # unused pointer when not FP8
    _index_scores_kernel[grid](
        q,
        k,
        w,
        ks,
        out,
        gmax,
        gmin,
        S,
        T,
        q_pos0,
        q.stride(0),
        q.stride(1),
        k.stride(0),
        k.stride(1),
        w.stride(0),
        w.stride(1),
        ks.stride(0),
        out.stride(0),
        out.stride(1),
        gmax.stride(0),
        gmax.stride(1),
        H=h,
        D=d,
        BQ=bq,
        BN=bn,
        KPP=kpp,
        FP8=fp8,
        num_warps=num_warps,
        num_stages=num_stages,
    )
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
