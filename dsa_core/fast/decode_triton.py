"""Triton kernel: combine the split partial results of sparse attention (decode, flash-decoding style).

A decode step has one query per sequence: at B = 32 and the 671B shape that is 64 attention programs
(2 head blocks per query) for 132 multiprocessors, and each program walks all K = 2048 selected rows
alone. sparse_attn_triton.py then splits each query's slots into NS ranges (grid axis 2). Range i
leaves, per head, its running max m_i (log2 units), its sum l_i = Σ exp2(x - m_i) and its unnormalised
output acc_i = Σ exp2(x - m_i)·v. The softmax over all slots is recovered exactly:
    M = max_i m_i,   a_i = exp2(m_i - M),   out = Σ_i a_i·acc_i / Σ_i a_i·l_i
(a range with no valid slot has m_i = -inf, a_i = 0; a query with none at all gives 0, as the kernel).
One program = one (query, head): it reads NS × Dv fp32 partials and writes Dv outputs.
The whole decode step (api.dsa_layer_fused with S = 1) is then: the indexer over the cached index
keys (indexer_triton.py, stored scores: 4 B per key, small beside the 256 B key), the threshold
selection (select_triton.py), and this split attention over the K gathered latent rows.
"""

import triton
import triton.language as tl


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
