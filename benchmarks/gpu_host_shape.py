"""Why the host shape's DSA layer loses to dense SDPA: time its parts in one run, and try the histogram
top-k's streaming settings (the selection took 75 of 107 ms of index_topk at 128K on the H100).

Shape: SmolLM2-135M (9 heads on 3 KV heads, d 64, indexer 4 × 64, k = 128), one causal prefill, B = 1.
Hypothesis written before measuring: the histogram top-k (topk_triton.py, one program per row) streams
its row 1,024 scores at a time with 4 warps, one dependent histogram per block, so each program has
4 KB in flight and the kernel reads at ~0.45 TB/s. Blocks of 4,096 with 8 warps should put 4× the
bytes in flight and bring the selection toward one read per pass at the copy rate: at 128K, from
~75 ms to ~40 ms (two reads of 34 GB at 3 TB/s are 23 ms), index_topk from 107 to ~70 ms.
Rows: dense SDPA (GQA), the indexer alone (api default bq = 32 and the benchmark's tuned bq = 16),
the selection of the last query chunk per setting, and the whole histogram index_topk with the
default and the best setting; each setting's picks are checked against the default's.
Usage: python benchmarks/gpu_host_shape.py [--lengths 32768,131072] [--json PATH]
"""

import argparse
import functools
import json
import os

import gpu_bench_parts as P
import torch

import dsa_core.fast.topk_triton as topk_triton
from dsa_core.fast import api, plan

SHAPE = dict(H=9, H_kv=3, D=64, Dv=64, h=4, d=64, K=128, mla=False)  # dsa_core.config.SMOLLM2_HOST
SELECT = [  # histogram top-k settings (block, num_warps): the default first
    (1024, 4), (2048, 4), (4096, 4), (2048, 8), (4096, 8), (8192, 8),
]  # fmt: skip
INDEXER = [dict(bq=32), dict(bq=16), dict(bq=32, bn=128, num_warps=8), dict(bq=64, bn=64, num_warps=8)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lengths", default="32768,131072")
    ap.add_argument("--json", default=os.path.join(os.environ.get("OUT", "."), "host_shape.json"))
    a = ap.parse_args()
    res = {"device": torch.cuda.get_device_name(), "commit": os.environ.get("GIT_COMMIT"), "rows": []}

    def add(T, variant, ms, **extra):
        res["rows"].append({"T": T, "variant": variant, "ms": ms} | extra)
        print(f"T={T:>6} {variant:40s} {ms:9.3f} ms {extra.get('note', '')}", flush=True)
        with open(a.json, "w") as fh:
            json.dump(res, fh, indent=1)

    real = topk_triton.select_topk_into
    for T in [int(x) for x in a.lengths.split(",")]:
        s = SHAPE
        ms, backend = P.sdpa_ms(1, s["H"], s["H_kv"], T, s["D"], s["Dv"], backend="best")
        add(T, "dense/sdpa_gqa", ms, note=backend)
        torch.cuda.empty_cache()
        q, kv, v, qi, ki, w = P.attn_inputs(s, T, mla=False)
        K = s["K"]
        for cfg in INDEXER:
            add(T, "indexer " + str(cfg), P.indexer_only(qi, ki, w, **cfg))
        ref = None
        best = None
        for block, nw in SELECT:
            sel = dict(block=block, num_warps=nw)
            ours, theirs, nbytes, agree = P.selection_last_chunk(qi, ki, w, K, 32, select=sel)
            note = f"{nbytes / ours / 1e9:.2f} TB/s, torch.topk {theirs:.3f} ms, agree {agree:.4f}"
            add(T, f"selection_last_chunk {sel}", ours, tbps=nbytes / ours / 1e9, agree=agree, note=note)
            if agree > 0.999 and (best is None or ours < best[0]):
                best = (ours, sel)
        for name, sel in [("default", {}), ("best", best[1] if best else {})]:
            topk_triton.select_topk_into = functools.partial(real, **sel)
            try:
                idx = api.index_topk(qi, ki, w, K, select="histogram")
                ms = P.time_ms(lambda: api.index_topk(qi, ki, w, K, select="histogram"))
            finally:
                topk_triton.select_topk_into = real
            same = None
            if ref is None:
                ref = idx.long().sort(-1).values
            else:
                same = bool(torch.equal(idx.long().sort(-1).values, ref))
            add(T, f"index_topk_histogram {name} {sel}", ms, same_set_as_default=same)
        at = P.sparse_ms(q, kv, v, idx)
        add(T, "sparse_attention", at)
        del q, kv, v, qi, ki, w, idx, ref
        torch.cuda.empty_cache()
    print("plan.selection_path(T):", plan.selection_path(131072))


if __name__ == "__main__":
    main()
