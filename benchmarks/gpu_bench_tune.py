"""Kernel settings for benchmarks/gpu_bench.py: time a few tile/warp choices per shape, keep the fastest.

Each try is one row "tune/<kernel>" in the JSON (note = the settings), so the choice is on record.
Tried at T = 16K, the whole causal prefill: the indexer as it runs in index_topk (the fused threshold
selection at the host shape, the score-writing indexer at the 671B shape), then sparse attention.
"""

import gpu_bench_parts as P

from dsa_core.fast import plan

INDEXER = {  # bq queries × h heads = the tl.dot's N; bn keys = its M
    "v32-671b": [
        dict(bq=4, bn=64, num_warps=4, num_stages=3),  # the H200's choice in the earlier run
        dict(bq=4, bn=128, num_warps=8, num_stages=3),
    ],
    "smollm2-135m": [
        dict(bq=32, bn=64, num_warps=4, num_stages=3),
        dict(bq=32, bn=128, num_warps=8, num_stages=3),
        dict(bq=16, bn=64, num_warps=4, num_stages=3),
        dict(bq=64, bn=128, num_warps=8, num_stages=3),
    ],
}
SPARSE = {
    "v32-671b": [
        dict(bn=64, num_warps=8, num_stages=2),
        dict(bn=32, num_warps=8, num_stages=2),
        dict(bn=32, num_warps=8, num_stages=3),
        dict(bn=64, num_warps=8, num_stages=1),
    ],
    "smollm2-135m": [
        dict(bn=64, num_warps=4, num_stages=2),
        dict(bn=32, num_warps=4, num_stages=3),
        dict(bn=128, num_warps=4, num_stages=2),
    ],
}


def _pick(rep, name, T, variant, configs, run, flops=None):
    """Time run(cfg) for each config, record the rows, return the fastest config (None if all fail)."""
    best = (float("inf"), None)
    for cfg in configs:
        try:
            ms = run(cfg)
        except Exception as e:  # e.g. out of shared memory for this tile
            print("config failed", variant, cfg, type(e).__name__, str(e)[:120])
            continue
        rep.add(name, T, variant, ms, flops, None, note=str(cfg))
        best = min(best, (ms, cfg), key=lambda x: x[0])
    return best[1]


def tune(rep, shapes, names, T=16384):
    """-> {shape name: {"indexer": cfg, "sparse": cfg}} (missing keys: defaults)."""
    out = {}
    for name in names:
        s = shapes[name]
        q, kv, v, qi, ki, w = P.attn_inputs(s, T, mla=s["mla"])
        fl = plan.indexer_flops(T, T, s["h"], s["d"])
        if plan.fuse_rescore(T, s["h"], s["d"]):
            run = lambda c: P.index_topk_ms(qi, ki, w, s["K"], **c)[0]  # noqa: E731
            best = {"indexer": _pick(rep, name, T, "tune/index_topk", INDEXER[name], run, fl)}
        else:
            run = lambda c: P.indexer_only(qi, ki, w, **c)  # noqa: E731
            best = {"indexer": _pick(rep, name, T, "tune/indexer", INDEXER[name], run, fl)}
        idx = P.api.index_topk(qi, ki, w, s["K"], **(best["indexer"] or {}))
        fl = plan.sparse_flops(T, T, s["H"], s["D"], s["Dv"], s["K"])
        run = lambda c: P.sparse_ms(q, kv, v, idx, **c)  # noqa: E731
        best["sparse"] = _pick(rep, name, T, "tune/sparse_attention", SPARSE[name], run, fl)
        out[name] = {k: c for k, c in best.items() if c is not None}
        del q, kv, v, qi, ki, w, idx
    return out
