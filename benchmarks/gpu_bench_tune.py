"""Kernel settings for benchmarks/gpu_bench.py: time a few tile/warp choices per shape, keep the fastest.

Each try is one row "tune/<kernel>" in the JSON (note = the settings), so the choice is on record.
Tried at T = 16K, the whole causal prefill; the selection on the last query chunk at T = 64K, where
rows are long (a 16K tuning favoured a small candidate cap that costs extra passes on 128K rows).
"""

import gpu_bench_parts as P

from dsa_core.fast import plan

INDEXER = {  # bq queries × h heads = the tl.dot's N; bn keys = its M
    "v32-671b": [
        dict(bq=2, bn=64, num_warps=4, num_stages=3),
        dict(bq=4, bn=64, num_warps=4, num_stages=3),
        dict(bq=4, bn=64, num_warps=4, num_stages=4),
        dict(bq=4, bn=128, num_warps=8, num_stages=3),
    ],
    "smollm2-135m": [
        dict(bq=32, bn=128, num_warps=8, num_stages=3),
        dict(bq=32, bn=64, num_warps=4, num_stages=3),
        dict(bq=64, bn=64, num_warps=4, num_stages=3),
        dict(bq=16, bn=128, num_warps=4, num_stages=3),
    ],
}
SELECT = [
    dict(nb=128, block=1024, num_warps=4),
    dict(nb=128, block=512, num_warps=4),
    dict(nb=128, block=1024, num_warps=2),
    dict(nb=64, block=1024, num_warps=4, cap=1024),
    dict(nb=128, block=1024, num_warps=4, cap=256),
    dict(nb=256, block=1024, num_warps=4),
]
SPARSE = {
    "v32-671b": [dict(bn=64, num_warps=8, num_stages=2), dict(bn=32, num_warps=8, num_stages=2)],
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
    """-> {shape name: {"indexer": cfg, "select": cfg, "sparse": cfg}} (missing keys: defaults)."""
    out = {}
    for name in names:
        s = shapes[name]
        q, kv, v, qi, ki, w = P.attn_inputs(s, T, mla=s["mla"])
        best = {
            "indexer": _pick(
                rep,
                name,
                T,
                "tune/indexer",
                INDEXER[name],
                lambda c: P.indexer_only(qi, ki, w, **c),
                plan.indexer_flops(T, T, s["h"], s["d"]),
            )
        }
        bq = (best["indexer"] or {}).get("bq", plan.indexer_blocks(s["h"], s["d"]))
        idx = P.api.index_topk(qi, ki, w, s["K"], **(best["indexer"] or {}))
        del qi, ki, w
        qi, ki, w = P.attn_inputs(dict(s, H=1, D=16, Dv=16, H_kv=1), 65536, mla=False)[3:]
        best["select"] = _pick(
            rep,
            name,
            65536,
            "tune/selection_last_chunk",
            SELECT,
            lambda c: P.selection_last_chunk(qi, ki, w, s["K"], bq, select=c)[0],
        )
        best["sparse"] = _pick(
            rep,
            name,
            T,
            "tune/sparse_attention",
            SPARSE[name],
            lambda c: P.sparse_ms(q, kv, v, idx, **c),
            plan.sparse_flops(T, T, s["H"], s["D"], s["Dv"], s["K"]),
        )
        out[name] = {k: c for k, c in best.items() if c is not None}
        del q, kv, v, qi, ki, w, idx
    return out
