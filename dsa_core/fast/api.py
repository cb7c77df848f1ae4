"""The fast path's public functions: Triton kernels on a CUDA GPU, the readable reference elsewhere.

Each function checks its arguments (ValueError, as the reference does), then either launches the
Triton kernels of this package or, without Triton/CUDA or for shapes the kernels do not cover,
calls the reference functions of `dsa_core`, so it returns the same thing on every machine:
    index_topk(q, k, w, topk)          ≈ pipeline.index_topk (same SET per row, unsorted,
                                                                    int32, -1 slots last)
    sparse_attention(q, k, v, idx)     ≈ dsa_core.sparse_attention  (bf16 rounding)
    dsa_attention(q, kv, v, q_i, k_i, w, topk) = both in a row: one DSA layer's attention.
Triton is imported only inside these functions, so `import dsa_core.fast` works without it.
"""

import torch

from dsa_core.fast import plan


def triton_available():
    """True when Triton imports and a CUDA device is visible."""
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return torch.cuda.is_available()


def _on_gpu(*tensors):
    return all(t.is_cuda for t in tensors) and triton_available()


def indexer_plan(q, k, w, topk):
    """Kernel choices for index_topk, or None when the reference path must be used."""
    B, S, h, d = q.shape
    bq = plan.indexer_blocks(h, d)
    if bq is None or q.dtype not in (torch.bfloat16, torch.float16) or k.dtype != q.dtype:
        return None
    T = k.shape[1]
    return {"bq": bq, "chunks": plan.query_chunks(S, T, B), "kpp": 4096, "groups": -(-T // 4096)}


def quantize_fp8(q, k, w):
    """DeepSeek's FP8 indexer inputs (dsa_core.fp8.act_quant, ue8m0 scales, no Hadamard rotation):
    q [B,S,h,d], k [B,T,d], w [B,S,h] -> e4m3 q, e4m3 k, w·q_scale [B,S,h], k_scale [B,T]."""
    from dsa_core.fp8 import act_quant

    q8, q_scale = act_quant(q)  # [B,S,h,d] values, [B,S,h,1]
    k8, k_scale = act_quant(k)  # [B,T,d] values,   [B,T,1]
    fp8 = torch.float8_e4m3fn
    return q8.to(fp8), k8.to(fp8), w.float() * q_scale[..., 0], k_scale[..., 0].contiguous()


def index_topk(q, k, w, topk, chunk_plan=None, fp8=False, select=None, **tune):
    """Top-k positions of the index scores: q [B,S,h,d], k [B,T,d], w [B,S,h] -> int [B,S,topk].

    Never builds the T×T matrix: scores exist for one query chunk at a time (plan.query_chunks).
    fp8=True scores as DeepSeek's production indexer does (e4m3 q and k, see quantize_fp8): the
    selection then matches `dsa_core.fp8.fp8_index_scores(..., rotate=False)`, not the bf16 scores.
    tune / select: indexer and top-k kernel settings, for benchmarks/gpu_bench.py.
    """
    plan.check_indexer_args(q, k, w, topk)
    p = indexer_plan(q, k, w, topk) if _on_gpu(q, k, w) else None
    if p is None:
        from dsa_core import pipeline

        if fp8:  # the same rounding, simulated in fp32 (scales folded back)
            from dsa_core.fp8 import fp8_quant_dequant

            q, k = fp8_quant_dequant(q), fp8_quant_dequant(k)
        return pipeline.index_topk(q, k, w, topk)
    from dsa_core.fast.indexer_triton import index_scores_into
    from dsa_core.fast.topk_triton import select_topk_into

    B, S, h, d = q.shape
    T = k.shape[1]
    q, k, w = q.contiguous(), k.contiguous(), w.contiguous()
    k_scale = None
    if fp8:
        q, k, w, k_scale = quantize_fp8(q, k, w)
    chunks = chunk_plan or p["chunks"]
    bq = tune.pop("bq", p["bq"])
    rows = max(s1 - s0 for s0, s1 in chunks)
    scores = torch.empty(B, rows, T, device=q.device, dtype=torch.float32)  # one chunk [B, c, T]
    gmax = torch.empty(B, rows, p["groups"], device=q.device, dtype=torch.float32)
    gmin = torch.empty_like(gmax)
    out = torch.empty(B, S, topk, device=q.device, dtype=torch.int32)  # [B, S, topk]
    for s0, s1 in chunks:
        end = T - S + s1  # keys after the chunk's last query are never seen
        pos0 = T - S + s0
        index_scores_into(
            q[:, s0:s1],
            k[:, :end],
            w[:, s0:s1],
            scores,
            gmax,
            gmin,
            pos0,
            bq,
            kpp=p["kpp"],
            k_scale=None if k_scale is None else k_scale[:, :end],
            **tune,
        )
        select_topk_into(scores, gmax, gmin, out[:, s0:s1], pos0, end, p["kpp"], **(select or {}))
    return out


def attention_plan(q, k, v):
    """Kernel choices for sparse_attention, or None when the reference path must be used."""
    B, S, H, D = q.shape
    Dv, G = v.shape[3], H // k.shape[2]
    split = plan.split_dim(D)
    if split is None or not plan.is_pow2(Dv) or Dv < 16 or q.dtype not in (torch.bfloat16, torch.float16):
        return None
    if k.dtype != q.dtype or v.dtype != q.dtype:
        return None
    # MLA: v is a view of k's first Dv columns -> reuse the gathered key tile as the value tile
    v_is_k = v.data_ptr() == k.data_ptr() and v.stride() == k.stride() and Dv == split[0]
    big = D + (0 if v_is_k else Dv) > 256
    return {
        "split": split,
        "bh": plan.head_block(G),
        "v_is_k": v_is_k,  # H200-tuned: docs/gpu.md
        "bn": 64,
        "num_warps": 8 if big else 4,
        "num_stages": 2,
    }


def sparse_attention(q, k, v, idx, scale=None, trunc=False, **tune):
    """Gathered sparse attention: q [B,S,H,D], k [B,T,H_kv,D], v [B,T,H_kv,Dv], idx [B,S,K] -> [B,S,H,Dv].

    trunc=True promises that -1 slots come last (true for index_topk and select_topk): then a query
    at position p reads only its first min(K, p + 1) slots.
    """
    plan.check_attention_args(q, k, v, idx)
    p = attention_plan(q, k, v) if _on_gpu(q, k, v, idx) else None
    if p is None:
        from dsa_core.sparse import sparse_attention as reference

        return reference(q, k, v, idx.long(), scale)
    from dsa_core.fast.sparse_attn_triton import sparse_attention_into

    D = q.shape[3]
    scale = D**-0.5 if scale is None else scale
    p.update(tune)
    out = torch.empty(*q.shape[:3], v.shape[3], device=q.device, dtype=q.dtype)  # [B, S, H, Dv]
    return sparse_attention_into(
        q,
        k,
        v,
        idx,
        out,
        scale,
        p["split"],
        p["bh"],
        p["v_is_k"],
        trunc,
        bn=p["bn"],
        num_warps=p["num_warps"],
        num_stages=p["num_stages"],
    )


def dsa_attention(q, k, v, q_index, k_index, w, topk, scale=None):
    """One DSA attention step: indexer top-k, then sparse attention over the selected keys.

    q [B,S,H,D], k [B,T,H_kv,D], v [B,T,H_kv,Dv]; indexer q_index [B,S,h,d], k_index [B,T,d],
    w [B,S,h] -> [B,S,H,Dv]. Prefill: S = T; decode: S = 1 against T cached keys.
    """
    idx = index_topk(q_index, k_index, w, topk)  # [B, S, topk]
    return sparse_attention(q, k, v, idx, scale, trunc=True)
