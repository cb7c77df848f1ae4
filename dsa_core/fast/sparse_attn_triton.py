"""Triton kernel: gathered sparse attention forward, one selected key set per query shared by all heads.

Computes, like `dsa_core.sparse_attention` (bf16/fp16 inputs, fp32 softmax and accumulate):
    O[b,s,h,:] = Σ_{j valid} softmax_j( scale · q[b,s,h,:] · k[b,idx_j,g,:] ) · v[b,idx_j,g,:],
    idx = idx[b,s,:], g = h // (H / H_kv), slots with idx = -1 ignored.
One program = one query × one block of BH query heads that share a KV head (the 671B MQA shape:
128 heads on one latent head, BH = 64, two programs per query; GQA hosts pad their group to 16).
Loop over the K selected positions in tiles of BN gathered rows (tl.load with row indices):
    S = Q·Kᵀ  [BH, BN]  (tensor cores; a head dim like 576 = 512 + 64 is split into two dots)
    online softmax (running max m, running sum l, exp2), then acc [BH, Dv] += P·V.
V_IS_K: MLA's values are the first Dv columns of the latent key (v = k[..., :512]), so the gathered
key tile is reused as the value tile: one gather per key instead of two (as FlashMLA does).
TRUNC: the top-k kernel puts -1 slots last, so a query at position p reads only min(K, p+1) slots.
SPLIT (decode, flash-decoding style): with few queries (one per sequence) there are too few programs
to fill the GPU, so grid axis 2 splits each query's slots into NS ranges of CH slots; each program
writes its unnormalised acc and its (m, l) in fp32, and decode_triton.py combines them.
"""

import torch
import triton
import triton.language as tl


@triton.jit
def _sparse_attn_kernel(
    q_ptr,
    k_ptr,
    v_ptr,
    idx_ptr,
    o_ptr,
    po_ptr,
    pml_ptr,
    scale_log2e,
    S,
    T,
    K,
    G,
    H_KV,
    q_pos0,
    sq_b,
    sq_s,
    sq_h,
    sk_b,
    sk_t,
    sk_h,
    sv_b,
    sv_t,
    sv_h,
    si_b,
    si_s,
    so_b,
    so_s,
    so_h,
    CH,
    D1: tl.constexpr,
    D2: tl.constexpr,
    DV: tl.constexpr,
    BH: tl.constexpr,
    BN: tl.constexpr,
    V_IS_K: tl.constexpr,
    TRUNC: tl.constexpr,
    SPLIT: tl.constexpr,
):
    pid, bg, sp = (
        tl.program_id(0),
        tl.program_id(1),
        tl.program_id(2),
    )  # pid = query * head_blocks + head_block
    n_hb = tl.cdiv(G, BH)
    hb, s = pid % n_hb, (pid // n_hb).to(tl.int64)  # head blocks of one query run side by side
    b, g = (bg // H_KV).to(tl.int64), bg % H_KV  # int64: q and out exceed 2^31 elements
    hh = hb * BH + tl.arange(0, BH)  # head within the group [BH]
    hmask = hh < G
    heads = g * G + hh
    d1 = tl.arange(0, D1)
    qrow = q_ptr + b * sq_b + s * sq_s + heads[:, None] * sq_h
    q1 = tl.load(qrow + d1[None, :], mask=hmask[:, None], other=0.0)  # [BH, D1]
    if D2 > 0:
        d2 = tl.arange(0, D2)
        q2 = tl.load(qrow + D1 + d2[None, :], mask=hmask[:, None], other=0.0)  # [BH, D2]
    dv = tl.arange(0, DV)
    m_i = tl.full([BH], float("-inf"), tl.float32)
    l_i = tl.zeros([BH], tl.float32)
    acc = tl.zeros([BH, DV], tl.float32)
    n_slots = K
    if TRUNC:
        n_slots = tl.minimum(K, q_pos0 + s + 1)
    kbase = k_ptr + b * sk_b + g * sk_h
    n_end = tl.minimum(n_slots, (sp + 1) * CH)  # this program's slots: [sp·CH, n_end)
    for n0 in range(sp * CH, n_end, BN):
        j = n0 + tl.arange(0, BN)
        idx = tl.load(idx_ptr + b * si_b + s * si_s + j, mask=j < n_end, other=-1)  # [BN]
        ok = (idx >= 0) & (idx < T)
        rows = tl.where(ok, idx, 0)  # int32 offsets: fewer registers
        k1 = tl.load(kbase + rows[:, None] * sk_t + d1[None, :], mask=ok[:, None], other=0.0)  # [BN, D1]
        qk = tl.dot(q1, tl.trans(k1))  # [BH, BN]
        if D2 > 0:
            k2 = tl.load(kbase + rows[:, None] * sk_t + D1 + d2[None, :], mask=ok[:, None], other=0.0)
            qk += tl.dot(q2, tl.trans(k2))
        qk = tl.where(ok[None, :], qk * scale_log2e, float("-inf"))  # log2 units
        m_new = tl.maximum(m_i, tl.max(qk, axis=1))
        m_use = tl.where(m_new == float("-inf"), 0.0, m_new)  # no valid slot yet: avoid inf-inf
        alpha = tl.exp2(m_i - m_use)
        p = tl.exp2(qk - m_use[:, None])  # [BH, BN]
        l_i = l_i * alpha + tl.sum(p, axis=1)
        if V_IS_K:
            v = k1  # [BN, DV = D1]
        else:
            v = tl.load(
                v_ptr + b * sv_b + g * sv_h + rows[:, None] * sv_t + dv[None, :], mask=ok[:, None], other=0.0
            )  # [BN, DV]
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v)
        m_i = m_new
    if SPLIT:  # partial results [B, S, NS, H, Dv] and [B, S, NS, H, 2], combined by decode_triton.py
        part = ((b * S + s) * tl.num_programs(2) + sp) * (H_KV * G) + heads  # [BH]
        tl.store(po_ptr + part[:, None] * DV + dv[None, :], acc, mask=hmask[:, None])
        tl.store(pml_ptr + part * 2, m_i, mask=hmask)
        tl.store(pml_ptr + part * 2 + 1, l_i, mask=hmask)
        return
    out = acc / tl.where(l_i > 0, l_i, 1.0)[:, None]  # a query with no valid slot gives 0
    tl.store(
        o_ptr + b * so_b + s * so_s + heads[:, None] * so_h + dv[None, :],
        out.to(o_ptr.dtype.element_ty),
        mask=hmask[:, None],
    )


def sparse_attention_into(
    q, k, v, idx, out, scale, d_split, bh, v_is_k, trunc, bn=32, num_warps=8, num_stages=2, splits=1
):
    """Launch: q [B,S,H,D], k [B,T,H_kv,D], v [B,T,H_kv,Dv], idx [B,S,K] -> out [B,S,H,Dv] (written).
    splits > 1: each query's slots in `splits` ranges, combined by decode_triton.combine_into."""
    B, S, H, D = q.shape
    T, H_kv, Dv = k.shape[1], k.shape[2], v.shape[3]
    G = H // H_kv
    d1, d2 = d_split
    assert q.stride(3) == 1 and k.stride(3) == 1 and v.stride(3) == 1 and idx.stride(2) == 1
    K = idx.shape[2]
    ch = triton.cdiv(triton.cdiv(K, splits), bn) * bn  # slots per split, whole tiles
    ns = triton.cdiv(K, ch)
    grid = (triton.cdiv(G, bh) * S, B * H_kv, ns)  # axis 0 allows 2^31 - 1 programs
    po = pml = out
    if ns > 1:
        po = torch.empty(B, S, ns, H, Dv, device=q.device, dtype=torch.float32)
        pml = torch.empty(B, S, ns, H, 2, device=q.device, dtype=torch.float32)
    _sparse_attn_kernel[grid](
        q,
        k,
        v,
        idx,
        out,
        po,
        pml,
        scale * 1.4426950408889634,
        S,
        T,
        idx.shape[2],
        G,
        H_kv,
        T - S,
        q.stride(0),
        q.stride(1),
        q.stride(2),
        k.stride(0),
        k.stride(1),
        k.stride(2),
        v.stride(0),
        v.stride(1),
        v.stride(2),
        idx.stride(0),
        idx.stride(1),
        out.stride(0),
        out.stride(1),
        out.stride(2),
        ch,
        D1=d1,
        D2=d2,
        DV=Dv,
        BH=bh,
        BN=bn,
        V_IS_K=v_is_k,
        TRUNC=trunc,
        SPLIT=ns > 1,
        num_warps=num_warps,
        num_stages=num_stages,
    )
    if ns > 1:
        from dsa_core.fast.decode_triton import combine_into

        combine_into(po, pml, out)
    return out
