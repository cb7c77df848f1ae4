"""Triton kernels: the indexer fused with the top-k, so the [S, T] fp32 scores never reach HBM.

For a small indexer (the host's 4 heads × 64: 512 FLOP per query-key pair) writing and reading a
4-byte score costs more than computing it twice, so the selection scores the keys twice instead:
  A. `_sample_max_kernel`: scores every R-th key tile (BN keys) up to the block's diagonal tile and
     writes the max of every G keys of them: [S, ≤ n/(R·G)] values, a few hundred to 8 K per row.
     The K-th largest of them, τ (select_triton._threshold_kernel), is a safe lower bound of the
     row's K-th largest score: they are maxima of disjoint key groups that really exist. Sampling
     makes A cost 1/R of a full pass; the price is ~R·K candidates instead of ~K.
  B. `_collect_kernel`: scores every visible key again, exactly as A does (indexer_triton.score_tile:
     the same tile code, so the same bits), and appends the keys with score ≥ τ to the row's
     candidate list with one atomic counter per row (select_triton's format: order key, position).
Then select_triton._final_kernel picks the exact top K of the candidates. What reaches HBM per
query: n/(R·G) maxima, its candidates, and K indices; never its n scores.
If B's scores were ever a rounding step below A's, a row could end with fewer than K candidates; the
caller checks every count and redoes such a row exactly (api.index_topk), so the set stays exact.
Grids: A (query blocks, batch), one program per block walking its sampled tiles; B as the indexer
(query blocks, key groups of KPP keys, batch). Query blocks go on axis 0, so S ≥ 65,536 is fine.
"""

import triton
import triton.language as tl

from dsa_core.fast.indexer_triton import load_query_block, score_tile
from dsa_core.fast.select_triton import order_key


@triton.jit
def _sample_max_kernel(
    q_ptr, k_ptr, w_ptr, mx_ptr, S, T, q_pos0, sq_b, sq_s, sk_b, sk_t, sw_b, sw_s, sm_b, sm_s,
    H: tl.constexpr, D: tl.constexpr, BQ: tl.constexpr, BN: tl.constexpr, R: tl.constexpr,
    G: tl.constexpr,
):  # fmt: skip
    pid_q, b = tl.program_id(0), tl.program_id(1)
    s0 = pid_q * BQ
    last_tile = (q_pos0 + tl.minimum(s0 + BQ, S) - 1) // BN  # holds the block's last query
    qt, w = load_query_block(q_ptr, w_ptr, b, s0, S, sq_b, sq_s, sw_b, sw_s, H, D, BQ)
    qi = s0 + tl.arange(0, BQ)
    qpos = q_pos0 + qi
    for i in range(0, last_tile // R + 1):  # tiles last_tile, last_tile - R, ... (i counts up from 0)
        n0 = (last_tile % R + i * R) * BN
        sc, keys = score_tile(k_ptr + b * sk_b, k_ptr, sk_t, qt, w, n0, T, qpos, BN, BQ, H, D, False)
        col = i * (BN // G) + tl.arange(0, BN // G)
        if G > 1:
            m = tl.max(tl.reshape(sc, (BN // G, G, BQ)), axis=1)  # [BN/G, BQ]
        else:
            m = sc
        tl.store(mx_ptr + b * sm_b + qi[None, :] * sm_s + col[:, None], m, mask=(qi < S)[None, :])


@triton.jit
def _collect_kernel(
    q_ptr, k_ptr, w_ptr, tau_ptr, cnt_ptr, ckey_ptr, cpos_ptr, S, T, q_pos0,
    sq_b, sq_s, sk_b, sk_t, sw_b, sw_s, st_b,
    H: tl.constexpr, D: tl.constexpr, BQ: tl.constexpr, BN: tl.constexpr, KPP: tl.constexpr,
    CAP: tl.constexpr,
):  # fmt: skip
    pid_q, pid_n, b = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    s0 = pid_q * BQ
    last_pos = q_pos0 + tl.minimum(s0 + BQ, S) - 1
    n_start = pid_n * KPP
    qi = s0 + tl.arange(0, BQ)
    tau = tl.load(tau_ptr + b * st_b + qi, mask=qi < S, other=float("inf"))  # [BQ]
    if (n_start > last_pos) | (tl.min(tau, axis=0) == float("inf")):  # future keys, or nothing to pick
        return
    qt, w = load_query_block(q_ptr, w_ptr, b, s0, S, sq_b, sq_s, sw_b, sw_s, H, D, BQ)
    qpos = q_pos0 + qi
    rows = b * S + qi  # counters [B*S], candidate lists [B*S, CAP]
    n_end = tl.minimum(tl.minimum(n_start + KPP, T), last_pos + 1)
    for n0 in range(n_start, n_end, BN):
        sc, keys = score_tile(k_ptr + b * sk_b, k_ptr, sk_t, qt, w, n0, T, qpos, BN, BQ, H, D, False)
        keep = (sc >= tau[None, :]) & (sc > float("-inf"))  # [BN, BQ], about K·R / n of them
        slot = tl.atomic_add(cnt_ptr + rows[None, :] + keys[:, None] * 0, 1, mask=keep, sem="relaxed")
        ok = keep & (slot < CAP)
        dst = rows[None, :] * CAP + slot
        tl.store(ckey_ptr + dst, order_key(sc), mask=ok)
        tl.store(cpos_ptr + dst, keys[:, None] + qi[None, :] * 0, mask=ok)


def sample_max_into(q, k, w, maxima, q_pos0, bq, r, g, bn=64, num_warps=4, num_stages=3):
    """Pass A: q [B,S,h,d], k [B,T,d], w [B,S,h] -> maxima [B,S,≥cols] (cols as select_triton reads)."""
    B, S, h, d = q.shape
    assert q.stride(3) == 1 and q.stride(2) == d and k.stride(2) == 1 and w.stride(2) == 1 and bn % g == 0
    _sample_max_kernel[(triton.cdiv(S, bq), B)](
        q, k, w, maxima, S, k.shape[1], q_pos0, q.stride(0), q.stride(1), k.stride(0), k.stride(1),
        w.stride(0), w.stride(1), maxima.stride(0), maxima.stride(1),
        H=h, D=d, BQ=bq, BN=bn, R=r, G=g, num_warps=num_warps, num_stages=num_stages,
    )  # fmt: skip
    return maxima


def collect_into(q, k, w, tau, cnt, ckey, cpos, q_pos0, bq, bn=64, kpp=4096, num_warps=4, num_stages=3):
    """Pass B: appends every visible key with score ≥ tau [B,S] to ckey/cpos [B*S, CAP], counts in cnt."""
    B, S, h, d = q.shape
    T = k.shape[1]
    _collect_kernel[(triton.cdiv(S, bq), triton.cdiv(T, kpp), B)](
        q, k, w, tau, cnt, ckey, cpos, S, T, q_pos0, q.stride(0), q.stride(1), k.stride(0), k.stride(1),
        w.stride(0), w.stride(1), tau.stride(0),
        H=h, D=d, BQ=bq, BN=bn, KPP=kpp, CAP=ckey.shape[1], num_warps=num_warps, num_stages=num_stages,
    )  # fmt: skip
