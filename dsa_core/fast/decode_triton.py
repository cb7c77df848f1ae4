"""Triton kernels of a decode step: the top-k in one launch, and the combine of split attention.

A decode step has one query per sequence (B = 32 rows at 128K keys). Its floor is one read of the
index keys (256 B a key at the 671B shape) plus K gathered latent rows; everything else is fixed cost,
so the step is four launches with no host round trip and no allocation of scratch (`decode_step`):
  1. indexer (indexer_triton.py): fp32 scores [B, 1, T] (4 B a key, small beside the key) and the max
     of every g consecutive keys (plan.decode_selection: T/g ≥ 2 K values a row);
  2. selection (`_select_kernel`, grid rows × key chunks), the threshold top-k of select_triton.py in
     one launch:
       - every program finds the row's safe threshold τ from the maxima (the K-th largest of them, top
         16 bits: every top-K key scores ≥ τ, select_triton.py says why);
       - it appends its chunk's keys ≥ τ to the row's candidate list (one atomic per block of keys);
       - the last program of the row to finish (a counter with release/acquire order) picks the exact
         set from the candidates: K-th largest order key, then ties to the lowest positions. If the
         list overflowed (many equal scores) it reads the stored scores instead, exactly, in a few
         passes. So no count goes back to the host, and the step can be captured in a CUDA graph.
       - the last program also sets the row's counters back to 0: the scratch is reused as it is;
  3. split sparse attention (sparse_attn_triton.py, NS slot ranges per query);
  4. `_combine_kernel`: the exact softmax over the NS ranges. Range i leaves per head its running max
     m_i (log2 units), sum l_i = Σ exp2(x - m_i) and unnormalised acc_i = Σ exp2(x - m_i)·v:
         M = max_i m_i,   a_i = exp2(m_i - M),   out = Σ_i a_i·acc_i / Σ_i a_i·l_i
     (a range with no valid slot has m_i = -inf, a_i = 0; a query with none at all gives 0).
"""

import torch
import triton
import triton.language as tl

from dsa_core.fast import plan
from dsa_core.fast.indexer_triton import index_scores_into
from dsa_core.fast.select_triton import INT_MIN, kth_largest, order_key
from dsa_core.fast.sparse_attn_triton import sparse_attention_into


@triton.jit
def _pick_from_candidates(ckey_ptr, cpos_ptr, orow, total, K, CB: tl.constexpr):
    """The exact top-K of a row's `total` candidates (≤ CB) -> K positions at orow (any order)."""
    c = tl.arange(0, CB)
    valid = c < total
    keys = tl.load(ckey_ptr + c, mask=valid, other=INT_MIN, cache_modifier=".cg")  # others' writes: not L1
    pos = tl.load(cpos_ptr + c, mask=valid, other=0, cache_modifier=".cg")
    t = kth_largest(keys, K, 32)  # the exact K-th largest order key
    gt, eq = keys > t, keys == t
    need = K - tl.sum(gt.to(tl.int32), axis=0)  # slots left for keys equal to the K-th value
    take = gt | eq
    if tl.sum(eq.to(tl.int32), axis=0) > need:  # ties at the K-th value: the lowest positions win
        p = -kth_largest(tl.where(eq, -pos, INT_MIN), need, 32)  # the need-th smallest position
        take = gt | (eq & (pos <= p))
    slot = tl.cumsum(take.to(tl.int32), axis=0) - 1
    tl.store(orow + slot, pos, mask=take)


@triton.jit
def _count_at_least(xrow, n, t, BLOCK: tl.constexpr):
    """How many of the row's n scores have an order key ≥ t (one pass over the stored scores)."""
    total = 0
    for o0 in range(0, n, BLOCK):
        o = o0 + tl.arange(0, BLOCK)
        key = order_key(tl.load(xrow + o, mask=o < n, other=float("-inf")))
        total += tl.sum(((o < n) & (key >= t)).to(tl.int32), axis=0)
    return total


@triton.jit
def _pick_from_scores(xrow, orow, n, K, BLOCK: tl.constexpr):
    """The exact top-K of all n stored scores of a row (the candidate list overflowed): 32 counting
    passes build the K-th largest order key t bit by bit, then one pass in position order takes the
    keys > t and the first `need` keys = t."""
    t = tl.where(_count_at_least(xrow, n, 0, BLOCK) >= K, 0, INT_MIN)  # the sign bit
    for i in tl.static_range(31):
        trial = t | (1 << (30 - i))
        t = tl.where(_count_at_least(xrow, n, trial, BLOCK) >= K, trial, t)
    need = K - _count_at_least(xrow, n, t + 1, BLOCK)
    taken, eq_seen = 0, 0
    for o0 in range(0, n, BLOCK):
        o = o0 + tl.arange(0, BLOCK)
        key = order_key(tl.load(xrow + o, mask=o < n, other=float("-inf")))
        eq = ((o < n) & (key == t)).to(tl.int32)
        take = ((o < n) & (key > t)) | ((eq > 0) & (eq_seen + tl.cumsum(eq, axis=0) <= need))
        tl.store(orow + taken + tl.cumsum(take.to(tl.int32), axis=0) - 1, o, mask=take)
        taken += tl.sum(take.to(tl.int32), axis=0)
        eq_seen += tl.sum(eq, axis=0)


@triton.jit
def _select_kernel(
    x_ptr, mx_ptr, cnt_ptr, done_ptr, ckey_ptr, cpos_ptr, out_ptr, S, T, q_pos0, K,
    sx_b, sx_s, sm_b, sm_s, so_b, so_s,
    G: tl.constexpr, RB: tl.constexpr, CAP: tl.constexpr, PER: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    row, j = tl.program_id(0), tl.program_id(1)  # row = b·S + s, key chunk j
    b, s = row // S, row % S
    n = tl.minimum(q_pos0 + s + 1, T)  # visible keys of this query
    orow = out_ptr + b * so_b + s * so_s
    if n <= K:  # every visible key is selected, in position order, then -1
        if j == 0:
            for j0 in range(0, K, BLOCK):
                o = j0 + tl.arange(0, BLOCK)
                tl.store(orow + o, tl.where(o < n, o, -1), mask=o < K)
        return
    # 1. the safe threshold, from the maxima of every G keys (each program of the row: the same bits)
    c = tl.arange(0, RB)
    m = tl.load(mx_ptr + b * sm_b + s * sm_s + c, mask=c < tl.cdiv(n, G), other=float("-inf"))
    tau = kth_largest(tl.where(m == float("-inf"), INT_MIN, order_key(m)), K, 16)
    # 2. this chunk's keys ≥ τ onto the row's list: one atomic per block reserves the block's slots
    xrow = x_ptr + b * sx_b + s * sx_s
    for o0 in range(j * PER, tl.minimum(j * PER + PER, n), BLOCK):
        o = o0 + tl.arange(0, BLOCK)
        key = order_key(tl.load(xrow + o, mask=o < n, other=float("-inf")))
        keep = ((o < n) & (key >= tau)).to(tl.int32)
        kept = tl.sum(keep, axis=0)
        if kept > 0:
            slot = tl.atomic_add(cnt_ptr + row, kept, sem="relaxed") + tl.cumsum(keep, axis=0) - 1
            ok = (keep > 0) & (slot < CAP)
            tl.store(ckey_ptr + row * CAP + slot, key, mask=ok)
            tl.store(cpos_ptr + row * CAP + slot, o, mask=ok)
    # 3. the last program of the row picks the exact set (release: this program's stores come first)
    tl.debug_barrier()
    if tl.atomic_add(done_ptr + row, 1, sem="acq_rel") == tl.num_programs(1) - 1:
        total = tl.atomic_xchg(cnt_ptr + row, 0)  # read, and reset for the next step
        tl.atomic_xchg(done_ptr + row, 0)
        if total > CAP:  # the list overflowed (many equal scores): exact, from the stored scores
            _pick_from_scores(xrow, orow, n, K, BLOCK)
        elif total > CAP // 2:
            _pick_from_candidates(ckey_ptr + row * CAP, cpos_ptr + row * CAP, orow, total, K, CAP)
        else:  # the usual case (2.9 K candidates a row for K = 2048 on random inputs): half the width
            _pick_from_candidates(ckey_ptr + row * CAP, cpos_ptr + row * CAP, orow, total, K, CAP // 2)


def select_into(scores, maxima, ws, out, T, q_pos0, sel, num_warps=8):
    """scores [B,S,≥T] fp32 and maxima [B,S,≥cols] (the max of every sel["g"] keys; the scores when
    g = 1) -> out [B,S,K] int32, the top-K set of each row. ws: "cnt", "done" (zeros, left zero) and
    "ckey", "cpos" [B·S, cap] int32 (plan.decode_selection gives sel)."""
    B, S, K = out.shape
    _select_kernel[(B * S, triton.cdiv(T, sel["per"]))](
        scores, maxima, ws["cnt"], ws["done"], ws["ckey"], ws["cpos"], out, S, T, q_pos0, K,
        scores.stride(0), scores.stride(1), maxima.stride(0), maxima.stride(1), out.stride(0), out.stride(1),
        G=sel["g"], RB=sel["rb"], CAP=sel["cap"], PER=sel["per"], BLOCK=sel["block"], num_warps=num_warps,
    )  # fmt: skip
    return out


_WORKSPACES = {}  # (device, shape, selection plan) -> scratch tensors, reused by every step of that shape


def workspace(device, B, S, T, K, sel):
    """Scratch of a decode step, allocated once per shape: scores, maxima, group ranges, counters, lists.
    One workspace serves one stream at a time (the counters are shared by the programs of a launch)."""
    key = (str(device), B, S, T, K, tuple(sorted(sel.items())))
    if key not in _WORKSPACES:
        f32, i32, groups = torch.float32, torch.int32, triton.cdiv(T, 4096)
        scores = torch.empty(B, S, T, device=device, dtype=f32)  # [B, S, T]
        _WORKSPACES[key] = {
            "scores": scores,
            "maxima": scores if sel["g"] == 1 else torch.empty(B, S, sel["cols"], device=device, dtype=f32),
            "gmax": torch.empty(B, S, groups, device=device, dtype=f32),  # [B, S, T/4096]
            "gmin": torch.empty(B, S, groups, device=device, dtype=f32),
            "cnt": torch.zeros(B * S, device=device, dtype=i32),  # candidates per row
            "done": torch.zeros(B * S, device=device, dtype=i32),  # finished programs per row
            "ckey": torch.empty(B * S, sel["cap"], device=device, dtype=i32),  # [B·S, cap]
            "cpos": torch.empty(B * S, sel["cap"], device=device, dtype=i32),
        }
    return _WORKSPACES[key]


def decode_index_topk(q, k, w, topk, bq, out=None, sel_warps=8):
    """index_topk for a few queries against a long cache, in two launches and no host round trip:
    q [B,S,h,d], k [B,T,d], w [B,S,h] -> int32 [B,S,topk] (the reference's set, unsorted, -1 last).
    None when plan.decode_selection does not apply (then use api.index_topk)."""
    B, S, h, d = q.shape
    T = k.shape[1]
    sel = plan.decode_selection(B, S, T, topk)
    if sel is None:
        return None
    ws = workspace(q.device, B, S, T, topk, sel)
    out = torch.empty(B, S, topk, device=q.device, dtype=torch.int32) if out is None else out  # [B, S, K]
    g = sel["g"]
    index_scores_into(q, k, w, ws["scores"], ws["gmax"], ws["gmin"], T - S, bq,
                      maxima=ws["maxima"] if g > 1 else None, g=g if g > 1 else 0)  # fmt: skip
    return select_into(ws["scores"], ws["maxima"], ws, out, T, T - S, sel, sel_warps)


def decode_step(q, kv, v, q_index, k_index, w, topk, scale=None, **attn_tune):
    """One DSA decode step (api.dsa_layer_fused with few queries), four launches, no host round trip:
    q [B,S,H,D], kv [B,T,H_kv,D], v [B,T,H_kv,Dv], q_index [B,S,h,d], k_index [B,T,d], w [B,S,h]
    -> [B,S,H,Dv]. attn_tune: sparse attention settings (bn, num_warps, num_stages, splits, bh)."""
    from dsa_core.fast import api

    plan.check_indexer_args(q_index, k_index, w, topk)
    plan.check_attention_args(q, kv, v, torch.empty(*q.shape[:2], topk, dtype=torch.int32, device="meta"))
    p, a = api.indexer_plan(q_index, k_index, w, topk), api.attention_plan(q, kv, v)
    idx = None if p is None or a is None else decode_index_topk(q_index, k_index, w, topk, p["bq"])
    if idx is None:  # shapes the kernels do not take: the general path (or the reference)
        return api.dsa_layer_fused(q, kv, v, q_index, k_index, w, topk, scale)
    a |= attn_tune
    B, S, H, D = q.shape
    if a["splits"] is None:
        a["splits"] = plan.attention_splits(
            S, B, kv.shape[2], -(-(H // kv.shape[2]) // a["bh"]), topk, a["bn"]
        )
    out = torch.empty(B, S, H, v.shape[3], device=q.device, dtype=q.dtype)  # [B, S, H, Dv]
    return sparse_attention_into(
        q, kv, v, idx, out, D**-0.5 if scale is None else scale, a["split"], a["bh"], a["v_is_k"], True,
        bn=a["bn"], num_warps=a["num_warps"], num_stages=a["num_stages"], splits=a["splits"],
    )  # fmt: skip


@triton.jit
def _combine_kernel(po_ptr, pml_ptr, o_ptr, NS, H, so_q, so_h, DV: tl.constexpr, NSB: tl.constexpr):
    bs, h = tl.program_id(0).to(tl.int64), tl.program_id(1)  # query (b·S + s), head
    sp = tl.arange(0, NSB)
    ok = sp < NS
    part = (bs * NS + sp) * H + h  # [NSB] rows of the partial arrays
    m = tl.load(pml_ptr + part * 2, mask=ok, other=float("-inf"))
    l_part = tl.load(pml_ptr + part * 2 + 1, mask=ok, other=0.0)
    top = tl.max(m, axis=0)
    top = tl.where(top == float("-inf"), 0.0, top)  # no valid slot anywhere: all weights 0
    a = tl.where(m == float("-inf"), 0.0, tl.exp2(m - top))  # [NSB]
    total = tl.sum(a * l_part, axis=0)
    dv = tl.arange(0, DV)
    acc = tl.load(po_ptr + part[:, None] * DV + dv[None, :], mask=ok[:, None], other=0.0)  # [NSB, DV]
    out = tl.sum(acc * a[:, None], axis=0) / tl.where(total > 0, total, 1.0)
    tl.store(o_ptr + bs * so_q + h * so_h + dv, out.to(o_ptr.dtype.element_ty))


def combine_into(po, pml, out):
    """po [B,S,NS,H,Dv] fp32, pml [B,S,NS,H,2] -> out [B,S,H,Dv] (contiguous over B,S)."""
    B, S, ns, H, Dv = po.shape
    assert out.stride(0) == S * out.stride(1) and out.stride(3) == 1
    _combine_kernel[(B * S, H)](
        po, pml, out, ns, H, out.stride(1), out.stride(2), DV=Dv, NSB=triton.next_power_of_2(ns), num_warps=4
    )
    return out
