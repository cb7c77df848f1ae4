"""Triton kernel: top-k selection by histogram (radix-style) threshold search, one program per row.

Computes the same SET as `dsa_core.select_topk` (ties to the lower position; -1 where a row sees
fewer than K keys), but not its order: the K positions come back unsorted, as int32.
Why not sort: a row of 128K fp32 scores is 512 KB, and only the K-th largest value matters.
Steps for a row with n visible scores x[0..n) (n = position + 1):
  1. value range [lo, hi] from the indexer's per-group max/min (no extra pass);
  2. histogram pass: NB linear bins over [lo, hi]; bins are monotone in x, so the bin b* that holds
     the K-th largest value splits the row into "surely in" (bin > b*), candidates (bin = b*), "out";
  3. if the candidate bin is still too full (> CAP), shrink [lo, hi] to the min/max of that bin and
     go back to 2 (rare for real scores; stops when lo = hi, i.e. all candidates tie);
  4. collect pass: write "surely in" positions straight to the output (running cumsum, no atomics),
     and the candidates as packed (score bits, position) int64 into a scratch row;
  5. sort the ≤ CAP candidates (descending score, then lower position) and append the best `need`.
     If all candidates tie (lo = hi), take them in position order without sorting.
Typical cost: two reads of the row, against ~1 read for the bandwidth floor (docs/gpu.md:
torch.topk reads at ~0.3 TB/s).
"""

import torch
import triton
import triton.language as tl


@triton.jit
def _bins(x, lo, inv, NB: tl.constexpr):
    """Monotone bin of x in NB linear bins over [lo, hi] (inv = NB / (hi - lo)); 0 below lo."""
    f = tl.where(x > lo, tl.minimum((x - lo) * inv, NB - 1.0), 0.0)
    return f.to(tl.int32)


@triton.jit
def _topk_kernel(
    x_ptr,
    gmax_ptr,
    gmin_ptr,
    out_ptr,
    cand_ptr,
    S,
    T,
    q_pos0,
    sx_b,
    sx_s,
    sg_b,
    sg_s,
    so_b,
    so_s,
    K: tl.constexpr,
    KPP: tl.constexpr,
    GB: tl.constexpr,
    NB: tl.constexpr,
    BLOCK: tl.constexpr,
    CAP: tl.constexpr,
):
    s, b = tl.program_id(0), tl.program_id(1)
    n = tl.minimum(q_pos0 + s + 1, T)  # visible keys of this query
    xrow = x_ptr + b * sx_b + s * sx_s
    orow = out_ptr + b * so_b + s * so_s
    crow = cand_ptr + (b * S + s) * CAP
    if n <= K:  # everything visible is selected
        for j0 in range(0, K, BLOCK):
            o = j0 + tl.arange(0, BLOCK)
            tl.store(orow + o, tl.where(o < n, o, -1), mask=o < K)
        return
    g = tl.arange(0, GB)
    gm = g * KPP < n
    hi = tl.max(tl.load(gmax_ptr + b * sg_b + s * sg_s + g, mask=gm, other=float("-inf")), axis=0)
    lo = tl.min(tl.load(gmin_ptr + b * sg_b + s * sg_s + g, mask=gm, other=float("inf")), axis=0)
    need = n * 0 + K  # how many still to pick from the interval [lo, hi]
    bstar = n * 0
    inv = hi * 0.0
    go = hi > lo
    while go:
        inv = NB / (hi - lo)
        hist = tl.zeros([NB], dtype=tl.int32)
        for j0 in range(0, n, BLOCK):
            o = j0 + tl.arange(0, BLOCK)
            x = tl.load(xrow + o, mask=o < n, other=float("-inf"))
            inside = (o < n) & (x >= lo) & (x <= hi)
            hist += tl.histogram(_bins(x, lo, inv, NB), NB, mask=inside)
        nb = tl.arange(0, NB)
        at_or_above = tl.sum(hist, axis=0) - tl.cumsum(hist, axis=0) + hist  # count in bins ≥ b
        bstar = tl.max(tl.where(at_or_above >= need, nb, 0), axis=0)
        need -= tl.sum(tl.where(nb > bstar, hist, 0), axis=0)
        count = tl.sum(tl.where(nb == bstar, hist, 0), axis=0)
        go = count > CAP
        if go:  # shrink to the threshold bin and histogram again
            nlo = float("inf")
            nhi = float("-inf")
            for j0 in range(0, n, BLOCK):
                o = j0 + tl.arange(0, BLOCK)
                x = tl.load(xrow + o, mask=o < n, other=float("-inf"))
                inb = (o < n) & (x >= lo) & (x <= hi) & (_bins(x, lo, inv, NB) == bstar)
                nlo = tl.minimum(nlo, tl.min(tl.where(inb, x, float("inf")), axis=0))
                nhi = tl.maximum(nhi, tl.max(tl.where(inb, x, float("-inf")), axis=0))
            lo = nlo
            hi = nhi
            go = hi > lo
    strict = hi > lo  # False: all candidates have the same value
    bcut = tl.where(strict, bstar, NB)  # bins above bcut are surely in (none when tied)
    bcand = tl.where(strict, bstar, 0)  # tied values all fall in bin 0
    taken = n * 0
    ncand = n * 0
    for j0 in range(0, n, BLOCK):
        o = j0 + tl.arange(0, BLOCK)
        x = tl.load(xrow + o, mask=o < n, other=float("-inf"))
        inside = (o < n) & (x >= lo) & (x <= hi)
        bn = _bins(x, lo, inv, NB)
        take = (o < n) & ((x > hi) | (inside & (bn > bcut)))
        cand = inside & (bn == bcand)
        both = tl.cumsum(take.to(tl.int32) + cand.to(tl.int32) * 65536, axis=0)  # two scans in one
        slot = taken + (both & 0xFFFF) - 1
        tl.store(orow + slot, o, mask=take)
        tot = tl.sum(take.to(tl.int32) + cand.to(tl.int32) * 65536, axis=0)
        taken += tot & 0xFFFF
        rank = ncand + (both >> 16) - 1
        if hi <= lo:  # equal scores: lower positions first
            tl.store(orow + (K - need) + rank, o, mask=cand & (rank < need))
        else:
            bits = x.to(tl.int32, bitcast=True)
            key = tl.where(bits < 0, bits ^ 0x7FFFFFFF, bits).to(tl.int64)  # order-preserving
            packed = (key << 32) | (0x7FFFFFFF - o).to(tl.int64)
            tl.store(crow + rank, packed, mask=cand)
        ncand += tot >> 16
    if strict:
        tl.debug_barrier()  # the scratch row was written by other threads
        c = tl.arange(0, CAP)
        packed = tl.load(crow + c, mask=c < ncand, other=-9223372036854775807 - 1)
        best = tl.sort(packed, descending=True)
        pos = 0x7FFFFFFF - (best - ((best >> 32) << 32)).to(tl.int32)  # low 32 bits
        tl.store(orow + (K - need) + c, pos, mask=c < need)


def select_topk_into(scores, gmax, gmin, out, q_pos0, T, kpp, nb=128, block=1024, cap=512, num_warps=4):
    """scores [B,S,≥T] fp32 (+ per-group max/min [B,S,G]) -> out [B,S,K] int32, unsorted sets."""
    B, S, K = out.shape
    cand = torch.empty(B * S * cap, device=scores.device, dtype=torch.int64)
    gb = triton.next_power_of_2(max(2, gmax.shape[-1]))
    _topk_kernel[(S, B)](
        scores,
        gmax,
        gmin,
        out,
        cand,
        S,
        T,
        q_pos0,
        scores.stride(0),
        scores.stride(1),
        gmax.stride(0),
        gmax.stride(1),
        out.stride(0),
        out.stride(1),
        K=K,
        KPP=kpp,
        GB=gb,
        NB=nb,
        BLOCK=block,
        CAP=cap,
        num_warps=num_warps,
    )
    return out
