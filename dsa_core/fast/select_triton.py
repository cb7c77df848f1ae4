"""Triton kernels: top-k selection by a safe threshold, candidate filtering and an exact small top-k.

Computes the same SET as `dsa_core.select_topk` (ties to the lower position; -1 where a row sees
fewer than K keys), unsorted, as int32. The idea (as vLLM's and FlashInfer's fused top-k): only the
K-th largest value matters, and a safe LOWER BOUND of it is cheap to find.
  1. threshold (`_threshold_kernel`, one program per row): the row comes with a short list of values
     that are each the max of some disjoint group of its scores (the max of G keys, or sampled scores
     themselves, fused_topk_triton.py). The K-th largest of those values, τ, is ≤ the row's K-th
     largest score: K distinct groups each hold a score ≥ τ. So every top-K key has a score ≥ τ.
     τ is found by building the bits of the K-th largest order key from the top (16 bits: a lower
     bound is enough here), each bit one count over the list held in registers.
  2. filter (`_filter_kernel`, stored scores; or fused_topk_triton._collect_kernel, re-scored): one
     pass over the row appends every visible key with score ≥ τ to the row's candidate list
     (order key, position), with one atomic counter per row: about 1.5 K to 8 K candidates.
  3. final (`_final_kernel`, one program per row): the exact K-th largest order key t of the
     candidates (all 32 bits), then the keys > t, then among the keys = t the lowest positions
     (the reference's tie rule), compacted by a cumulative sum.
Order key: an fp32 bit pattern turned into an int32 whose signed order is the float order.
The caller (api.index_topk) checks the counts between 2 and 3: a row with more candidates than the
list holds (many ties) or fewer than K (cannot happen with stored scores) is redone by the histogram
top-k (topk_triton.py), so the result is exact for every input.
"""

import triton
import triton.language as tl

INT_MIN = tl.constexpr(-2147483648)


@triton.jit
def order_key(x):
    """fp32 -> int32 with the same order (x < y  <=>  key(x) < key(y)); -inf stays above INT_MIN."""
    bits = x.to(tl.int32, bitcast=True)
    return tl.where(bits < 0, bits ^ 0x7FFFFFFF, bits)


@triton.jit
def key_value(t):
    """The inverse of order_key: int32 -> fp32."""
    return tl.where(t < 0, t ^ 0x7FFFFFFF, t).to(tl.float32, bitcast=True)


@triton.jit
def kth_largest(keys, k, BITS: tl.constexpr):
    """The k-th largest of int32 `keys` (INT_MIN marks an empty slot), its top BITS bits exact and the
    rest 0: a lower bound that is exact for BITS = 32. INT_MIN if fewer than k keys are not empty.
    Bit by bit from the top: keep a bit if at least k keys are ≥ the value with it set."""
    t = tl.where(tl.sum((keys >= 0).to(tl.int32), axis=0) >= k, 0, INT_MIN)  # the sign bit
    for i in tl.static_range(BITS - 1):
        trial = t | (1 << (30 - i))
        t = tl.where(tl.sum((keys >= trial).to(tl.int32), axis=0) >= k, trial, t)
    return t


@triton.jit
def _threshold_kernel(
    mx_ptr, tau_ptr, S, T, q_pos0, K, sm_b, sm_s, st_b,
    G: tl.constexpr, R: tl.constexpr, BN: tl.constexpr, BQ: tl.constexpr, RB: tl.constexpr,
    BITS: tl.constexpr,
):  # fmt: skip
    s, b = tl.program_id(0), tl.program_id(1)
    n = tl.minimum(q_pos0 + s + 1, T)  # visible keys of this query
    if n <= K:  # every visible key is selected: no candidates needed
        tl.store(tau_ptr + b * st_b + s, float("inf"))
        return
    if R == 0:  # the max of every G keys of the row (G = 1: the stored scores themselves)
        ncols = tl.cdiv(n, G)
    else:  # sampled: every R-th key tile of BN keys up to the query block's last tile, G-maxima of each
        last_tile = (q_pos0 + tl.minimum((s // BQ) * BQ + BQ, S) - 1) // BN
        ncols = (last_tile // R + 1) * (BN // G)
    c = tl.arange(0, RB)
    x = tl.load(mx_ptr + b * sm_b + s * sm_s + c, mask=c < ncols, other=float("-inf"))
    t = kth_largest(tl.where(x == float("-inf"), INT_MIN, order_key(x)), K, BITS)
    tl.store(tau_ptr + b * st_b + s, tl.where(t == INT_MIN, float("-inf"), key_value(t)))


@triton.jit
def _filter_kernel(
    x_ptr, tau_ptr, cnt_ptr, ckey_ptr, cpos_ptr, S, T, q_pos0, sx_b, sx_s, st_b,
    CAP: tl.constexpr, PER: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    s, j, b = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    n = tl.minimum(q_pos0 + s + 1, T)
    tau = tl.load(tau_ptr + b * st_b + s)
    if (j * PER >= n) | (tau == float("inf")):
        return
    row = b * S + s  # counters [B*S], candidate lists [B*S, CAP]
    for o0 in range(j * PER, tl.minimum(j * PER + PER, n), BLOCK):
        o = o0 + tl.arange(0, BLOCK)
        x = tl.load(x_ptr + b * sx_b + s * sx_s + o, mask=o < n, other=float("-inf"))
        keep = (o < n) & (x >= tau)  # rare: one atomic per kept key, none for the rest
        slot = tl.atomic_add(cnt_ptr + row + o * 0, 1, mask=keep, sem="relaxed")
        ok = keep & (slot < CAP)
        tl.store(ckey_ptr + row * CAP + slot, order_key(x), mask=ok)
        tl.store(cpos_ptr + row * CAP + slot, o, mask=ok)


@triton.jit
def _final_kernel(
    cnt_ptr, ckey_ptr, cpos_ptr, out_ptr, S, T, q_pos0, K, so_b, so_s, CAP, CB: tl.constexpr,
    KB: tl.constexpr,
):  # fmt: skip
    s, b = tl.program_id(0), tl.program_id(1)
    n = tl.minimum(q_pos0 + s + 1, T)
    orow = out_ptr + b * so_b + s * so_s
    if n <= K:  # everything visible, in position order, then -1
        for j0 in range(0, K, KB):
            o = j0 + tl.arange(0, KB)
            tl.store(orow + o, tl.where(o < n, o, -1), mask=o < K)
        return
    row = b * S + s
    c = tl.arange(0, CB)
    valid = c < tl.load(cnt_ptr + row)  # the caller checked K ≤ count ≤ CAP
    keys = tl.load(ckey_ptr + row * CAP + c, mask=valid, other=INT_MIN)
    pos = tl.load(cpos_ptr + row * CAP + c, mask=valid, other=0)
    t = kth_largest(keys, K, 32)  # the exact K-th largest order key
    gt = keys > t
    eq = keys == t
    need = K - tl.sum(gt.to(tl.int32), axis=0)  # slots left for keys equal to the K-th value
    take = gt | eq
    if tl.sum(eq.to(tl.int32), axis=0) > need:  # ties at the K-th value: the lowest positions win
        p = -kth_largest(tl.where(eq, -pos, INT_MIN), need, 32)  # the need-th smallest position
        take = gt | (eq & (pos <= p))
    slot = tl.cumsum(take.to(tl.int32), axis=0) - 1
    tl.store(orow + slot, pos, mask=take)


def threshold_into(maxima, tau, S, T, q_pos0, K, g, r=0, bn=64, bq=1, rb=8192, bits=16, num_warps=4):
    """maxima [B,S,≥cols] fp32 -> tau [B,S] fp32 (+inf: row needs no candidates; -inf: keep all)."""
    B = tau.shape[0]
    _threshold_kernel[(S, B)](
        maxima, tau, S, T, q_pos0, K, maxima.stride(0), maxima.stride(1), tau.stride(0),
        G=g, R=r, BN=bn, BQ=bq, RB=rb, BITS=bits, num_warps=num_warps,
    )  # fmt: skip
    return tau


def filter_into(scores, tau, cnt, ckey, cpos, T, q_pos0, per=4096, block=1024, num_warps=4):
    """scores [B,S,≥T] fp32, tau [B,S] -> appends (order key, position) of scores ≥ tau to ckey/cpos
    [B*S, CAP], counting in cnt [B*S] int32 (zeroed by the caller)."""
    B, S = tau.shape
    _filter_kernel[(S, triton.cdiv(T, per), B)](
        scores, tau, cnt, ckey, cpos, S, T, q_pos0, scores.stride(0), scores.stride(1), tau.stride(0),
        CAP=ckey.shape[1], PER=per, BLOCK=block, num_warps=num_warps,
    )  # fmt: skip


def final_into(cnt, ckey, cpos, out, T, q_pos0, cb, num_warps=4):
    """Candidates -> out [B,S,K] int32: the exact top-K set per row; cb ≥ the largest count, a power of 2."""
    B, S, K = out.shape
    _final_kernel[(S, B)](
        cnt, ckey, cpos, out, S, T, q_pos0, K, out.stride(0), out.stride(1), ckey.shape[1],
        CB=cb, KB=min(1024, triton.next_power_of_2(K)), num_warps=num_warps,
    )  # fmt: skip
    return out
