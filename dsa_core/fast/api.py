"""The fast path's public functions: Triton kernels on a CUDA GPU, the readable reference elsewhere.

Each function checks its arguments (ValueError, as the reference does), then either launches the
Triton kernels of this package or, without Triton/CUDA or for shapes the kernels do not cover,
calls the reference functions of `dsa_core`, so it returns the same thing on every machine:
    index_topk(q, k, w, topk)          ≈ pipeline.index_topk       (same SET per row, unsorted,
                                                                    int32, -1 slots last)
    sparse_attention(q, k, v, idx)     ≈ dsa_core.sparse_attention  (bf16 rounding)
    dsa_layer_fused(q, kv, v, q_i, k_i, w, topk) = both in a row: one DSA layer's attention, prefill
                                         (S = T) or a decode step (S = 1 against T cached keys).
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
    bq = max(min(bq, plan.next_pow2(S)), -(-16 // h))  # decode: one query, but ≥ 16 dot columns
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


def index_topk(q, k, w, topk, chunk_plan=None, fp8=False, select=None, fused=None, stats=None, **tune):
    """Top-k positions of the index scores: q [B,S,h,d], k [B,T,d], w [B,S,h] -> int [B,S,topk].

    Never builds the T×T matrix. On a GPU, select picks the top-k (None: plan.selection_path):
      "decode" (decode_triton.py, a decode step's few queries): indexer + one selection launch, no
          device-to-host copy, scratch reused per shape (one stream at a time); "threshold" instead
          for FP8, a chunk_plan, tuned tiles, or shapes plan.decode_selection refuses;
      "threshold" (select_triton.py): fused=True scores twice and never writes the scores
          (fused_topk_triton.py), fused=False writes a query chunk's fp32 scores and filters them once;
          None lets plan.fuse_rescore choose;
      "histogram" (or a chunk_plan): fp32 scores of a query chunk, then the histogram top-k.
    fp8=True scores as DeepSeek's production indexer does (e4m3 q and k, see quantize_fp8): the
    selection then matches `dsa_core.fp8.fp8_index_scores(..., rotate=False)`, not the bf16 scores.
    stats: a dict that receives the number of rows redone by the histogram path ("redone").
    tune: indexer tile settings (bq, bn, num_warps, num_stages), for benchmarks/gpu_bench.py.
    """
    plan.check_indexer_args(q, k, w, topk)
    p = indexer_plan(q, k, w, topk) if _on_gpu(q, k, w) else None
    if p is None:
        from dsa_core import pipeline

        if fp8:  # the same rounding, simulated in fp32 (scales folded back)
            from dsa_core.fp8 import fp8_quant_dequant

            q, k = fp8_quant_dequant(q), fp8_quant_dequant(k)
        return pipeline.index_topk(q, k, w, topk)  # CPU fallback: the reference selection
    return index_topk_triton(q, k, w, topk, chunk_plan, fp8, select, fused, stats, **tune)


def index_topk_triton(q, k, w, topk, chunk_plan=None, fp8=False, select=None, fused=None, stats=None, **tune):
    """index_topk's Triton path on whatever device Triton runs (tests: TRITON_INTERPRET=1 on the CPU)."""
    p = indexer_plan(q, k, w, topk)
    B, S, h, d = q.shape
    q, k, w = q.contiguous(), k.contiguous(), w.contiguous()
    k_scale = None
    if fp8:
        q, k, w, k_scale = quantize_fp8(q, k, w)
    out = torch.empty(B, S, topk, device=q.device, dtype=torch.int32)  # [B, S, topk]
    tune = {"bq": p["bq"], **tune}
    fused = plan.fuse_rescore(S, h, d, fp8) if fused is None else fused and not fp8
    bn = tune.get("bn", 64)
    select = select or plan.selection_path(S)
    if select == "decode" and not fp8 and not chunk_plan and bn == 64:  # one launch, no host round trip
        from dsa_core.fast.decode_triton import decode_index_topk

        if decode_index_topk(q, k, w, topk, tune["bq"], out=out) is not None:
            if stats is not None:  # nothing is redone: an overflowing row is picked exactly on the device
                stats["redone"] = stats.get("redone", 0)
            return out
    select = "threshold" if select == "decode" else select  # plan.decode_selection refused the shape
    chunks = None if select == "histogram" else plan.selection_chunks(S, k.shape[1], B, topk, bn, fused)
    if chunk_plan or chunks is None:
        _histogram_rows(q, k, w, k_scale, out, 0, S, chunk_plan or p["chunks"], tune)
        return out
    for s0, s1, r, g in chunks:
        redo = _threshold_rows(q, k, w, k_scale, out, s0, s1, r, g, fused, tune)
        if redo:  # too many ties (or a re-scored row one rounding step short): the exact histogram path
            sub = [(a, min(a + (p["chunks"][0][1]), s1)) for a in range(s0, s1, p["chunks"][0][1])]
            _histogram_rows(q, k, w, k_scale, out, s0, s1, sub, tune)
        if stats is not None:
            stats["redone"] = stats.get("redone", 0) + (s1 - s0 if redo else 0)
    return out


def _threshold_rows(q, k, w, k_scale, out, s0, s1, r, g, fused, tune):
    """Queries s0..s1-1 by threshold + candidates (select_triton.py). Returns True if they must be redone."""
    import triton

    from dsa_core.fast.fused_topk_triton import collect_into, sample_max_into
    from dsa_core.fast.indexer_triton import index_scores_into
    from dsa_core.fast.select_triton import filter_into, final_into, threshold_into

    B, S, K = out.shape
    T, rows, dev = k.shape[1], s1 - s0, q.device
    end, pos0 = T - S + s1, T - S + s0  # keys after the range's last query are never seen
    qc, kc, wc = q[:, s0:s1], k[:, :end], w[:, s0:s1]
    bq, bn = tune["bq"], tune.get("bn", 64)
    cap = plan.candidate_cap(K)
    cnt = torch.zeros(B * rows, device=dev, dtype=torch.int32)  # candidates per row
    ckey = torch.empty(B * rows, cap, device=dev, dtype=torch.int32)  # their order keys
    cpos = torch.empty(B * rows, cap, device=dev, dtype=torch.int32)  # and positions
    tau = torch.empty(B, rows, device=dev, dtype=torch.float32)  # [B, rows] thresholds
    if fused:
        cols = plan.sample_cols(end - 1, bn, r, g)
        mx = torch.empty(B, rows, cols, device=dev, dtype=torch.float32)  # [B, rows, cols]
        sample_max_into(
            qc, kc, wc, mx, pos0, bq, r, g, bn, tune.get("num_warps", 4), tune.get("num_stages", 3)
        )
        threshold_into(mx, tau, rows, end, pos0, K, g, r, bn, bq, triton.next_power_of_2(cols))
        collect_into(qc, kc, wc, tau, cnt, ckey, cpos, pos0, bq, bn, 4096, tune.get("num_warps", 4))
    else:
        scores = torch.empty(B, rows, end, device=dev, dtype=torch.float32)  # one range [B, rows, end]
        gmax = torch.empty(B, rows, triton.cdiv(end, 4096), device=dev, dtype=torch.float32)
        mx = scores if g == 1 else torch.empty(B, rows, triton.cdiv(end, g), device=dev, dtype=torch.float32)
        ks = None if k_scale is None else k_scale[:, :end]
        index_scores_into(qc, kc, wc, scores, gmax, torch.empty_like(gmax), pos0, k_scale=ks, maxima=mx, g=g,
                          **tune)  # fmt: skip
        threshold_into(mx, tau, rows, end, pos0, K, g, 0, bn, bq, triton.next_power_of_2(mx.shape[2]))
        filter_into(scores, tau, cnt, ckey, cpos, end, pos0)
    n_row = (torch.arange(pos0, pos0 + rows, device=dev) + 1).clamp(max=end)  # visible keys [rows]
    short = ((cnt.view(B, rows) < K) & (n_row > K)).any()  # fewer candidates than picks: redo
    most, short = torch.stack([cnt.max(), short.int()]).tolist()  # one device-to-host copy
    if most > cap or short:
        return True
    final_into(cnt, ckey, cpos, out[:, s0:s1], end, pos0, triton.next_power_of_2(max(most, K)))
    return False


def _histogram_rows(q, k, w, k_scale, out, s0, s1, chunks, tune):
    """Queries s0..s1-1 by the two-kernel path: fp32 scores of a chunk, then the histogram top-k."""
    import triton

    from dsa_core.fast.indexer_triton import index_scores_into
    from dsa_core.fast.topk_triton import select_topk_into

    B, S, K = out.shape
    T = k.shape[1]
    chunks = [(max(a, s0), min(b, s1)) for a, b in chunks if b > s0 and a < s1]
    rows = max(b - a for a, b in chunks)
    scores = torch.empty(B, rows, T, device=q.device, dtype=torch.float32)  # one chunk [B, c, T]
    gmax = torch.empty(B, rows, triton.cdiv(T, 4096), device=q.device, dtype=torch.float32)
    gmin = torch.empty_like(gmax)
    for a, b in chunks:
        end, pos0 = T - S + b, T - S + a
        ks = None if k_scale is None else k_scale[:, :end]
        index_scores_into(q[:, a:b], k[:, :end], w[:, a:b], scores, gmax, gmin, pos0, k_scale=ks, **tune)
        select_topk_into(scores, gmax, gmin, out[:, a:b], pos0, end, 4096)


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
    bh = plan.head_block(G)
    return {
        "split": split,
        "bh": bh,
        "v_is_k": v_is_k,  # H200-tuned: docs/gpu.md
        "bn": 64,
        "num_warps": 8 if big else 4,
        "num_stages": 2,
        "splits": None,  # None: plan.attention_splits (decode: several programs per query)
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

    B, S, H, D = q.shape
    scale = D**-0.5 if scale is None else scale
    p.update(tune)
    if p["splits"] is None:
        hb = -(-(H // k.shape[2]) // p["bh"])
        p["splits"] = plan.attention_splits(S, B, k.shape[2], hb, idx.shape[2], p["bn"])
    out = torch.empty(*q.shape[:3], v.shape[3], device=q.device, dtype=q.dtype)  # [B, S, H, Dv]
    return sparse_attention_into(
        q, k, v, idx, out, scale, p["split"], p["bh"], p["v_is_k"], trunc,
        bn=p["bn"], num_warps=p["num_warps"], num_stages=p["num_stages"], splits=p["splits"],
    )  # fmt: skip


def dsa_layer_fused(q, k, v, q_index, k_index, w, topk, scale=None):
    """One DSA attention step on the fast path: indexer top-k, then sparse attention over the picks.

    q [B,S,H,D], k [B,T,H_kv,D], v [B,T,H_kv,Dv]; indexer q_index [B,S,h,d], k_index [B,T,d],
    w [B,S,h] -> [B,S,H,Dv]. Prefill: S = T; decode: S = 1 against T cached keys. (The model's layer,
    with its trace and the reference math, is dsa_core.dsa.dsa_attention.)
    """
    idx = index_topk(q_index, k_index, w, topk)  # [B, S, topk]
    return sparse_attention(q, k, v, idx, scale, trunc=True)
