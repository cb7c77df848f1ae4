"""Benchmark DSA's fast path (dsa_core.fast) against dense attention on one GPU (an H100 or H200).

For T = 4K … 128K, one causal prefill (B = 1), at two shapes:
  v32-671b      128 heads on one latent KV head, d_qk 576, d_v 512, indexer 64 × 128, k = 2048
  smollm2-135m  9 query heads on 3 KV heads, d 64, indexer 4 × 64, k = 128 (dsa_core.config)
it times dense SDPA (671B: DeepSeek's MHA prefill mode 192/128, and the 576/512 MLA shape with
expanded KV, measured up to --mla-max and extrapolated by T² beyond, flagged) against DSA split into
indexer, selection (index_topk: the threshold top-k, fused with the indexer at the host shape, and the
histogram top-k that index_topk runs by default in a prefill, plan.selection_path) and sparse
attention; the selection's stages at --stages lengths; then one decode step (B = 32, 128K context)
against dense decoding and its bandwidth floor.
The compute and bandwidth ceilings are measured first, in the same run (a bf16 matrix product, a
device-to-device copy, a read-only sum): percentages and floors use them.
FLOPs as FlashMLA / DeepGEMM count them (docs/sources.md §1); bytes are the fewest a part must move.
Prints a table and writes JSON (schema dsa-bench/1 of docs/cost.md plus extra keys: docs/gpu.md).
Usage: python benchmarks/gpu_bench.py [--lengths 4096,8192] [--json assets/bench/h100.json]
"""

import argparse
import json
import os
import subprocess
import time

import gpu_bench_parts as P
import torch
from gpu_bench_json import to_dsa_bench
from gpu_bench_tune import tune

from dsa_core.fast import api, plan

SHAPES = {  # from dsa_core.config: V32_671B and SMOLLM2_HOST
    "v32-671b": dict(H=128, H_kv=1, D=576, Dv=512, h=64, d=128, K=2048, mla=True),
    "smollm2-135m": dict(H=9, H_kv=3, D=64, Dv=64, h=4, d=64, K=128, mla=False),
}


class Report:
    def __init__(self, path, device):
        self.path, self.rows = path, []
        self.meta = {"device": device, "torch": torch.__version__, "ceilings": {}}

    def add(self, shape, T, variant, ms, flops=None, nbytes=None, **extra):
        c = self.meta["ceilings"]
        row = {"device": self.meta["device"], "shape_name": shape, "T": T, "variant": variant}
        row |= {"part": variant.split("/")[-1], "ms": ms, "flops": flops, "bytes": nbytes}
        row["tflops"] = flops / ms / 1e9 if flops and ms else None
        row["tbps"] = nbytes / ms / 1e9 if nbytes and ms else None
        row["pct_peak_flops"] = row["tflops"] and 100 * row["tflops"] / c.get("matmul_bf16_tflops", 1)
        row["pct_peak_bytes"] = row["tbps"] and 100 * row["tbps"] / c.get("copy_tbps", 1)
        self.rows.append(row | extra)
        f = lambda x, u: "" if x is None else f"{x:8.1f} {u}"  # noqa: E731
        print(
            f"{shape:13s} T={T:>6} {variant:30s} {ms:10.3f} ms {f(row['tflops'], 'TFLOP/s')} "
            f"{f(row['tbps'], 'TB/s')} {extra.get('note', '')}",
            flush=True,
        )
        if self.path:  # rewritten after every row: a cut-off run keeps its rows
            with open(self.path, "w") as fh:
                json.dump(to_dsa_bench(self.meta, self.rows), fh, indent=1)


def prefill(rep, name, s, T, best, mla_max, stages):
    q, kv, v, qi, ki, w = P.attn_inputs(s, T, mla=s["mla"])
    H, D, Dv, K, h, d = s["H"], s["D"], s["Dv"], s["K"], s["h"], s["d"]
    best = best.get(name, {})
    it = {"bq": plan.indexer_blocks(h, d), **best.get("indexer", {})}
    pairs = plan.visible_pairs(T, T)
    ix_fl = plan.indexer_flops(T, T, h, d)
    io = 2 * T * (h + 1) * d + 4 * T * h + 4 * T * K  # q, k, w read once, the picks written
    ix_ms = P.indexer_only(qi, ki, w, **it)
    rep.add(name, T, "dsa/indexer", ix_ms, ix_fl, 4 * pairs + io, note="scores to HBM (no selection)")
    fused = plan.fuse_rescore(T, h, d)
    pipe_ms, idx, redone = P.index_topk_ms(qi, ki, w, K, select="threshold", **it)
    how = "fused: scores never in HBM" if fused else "stored scores, one filtering read"
    rep.add(name, T, "dsa/index_topk", pipe_ms, ix_fl, io, note=how, fused=fused, redone=redone)
    if not fused:  # the selection alone: it reads each stored score once
        rep.add(name, T, "dsa/selection", pipe_ms - ix_ms, None, 4 * pairs, note="index_topk minus indexer")
    hist_ms = P.index_topk_ms(qi, ki, w, K, select="histogram", **it)[0]
    default_ms = hist_ms if plan.selection_path(T) == "histogram" else pipe_ms  # what index_topk runs
    rep.add(
        name, T, "dsa/index_topk_histogram", hist_ms, ix_fl, None, note="earlier path: scores + histogram"
    )
    if T in stages:
        parts, mean_c, max_c = P.selection_stages_ms(qi, ki, w, K, fused, **it)
        for part, ms in parts.items():
            rep.add(name, T, f"stage/{part}", ms, None, None, candidates_mean=mean_c, candidates_max=max_c)
    pipe8_ms = None
    if name == "v32-671b":  # DeepSeek's FP8 indexer
        q8, k8, w8, ks = api.quantize_fp8(qi, ki, w)
        rep.add(name, T, "dsa/fp8_quantize", P.time_ms(lambda: api.quantize_fp8(qi, ki, w)), note="torch")
        rep.add(name, T, "dsa/indexer_fp8", P.indexer_only(q8, k8, w8, k_scale=ks, **it), ix_fl, None)
        del q8, k8, w8, ks
        pipe8_ms = P.index_topk_ms(qi, ki, w, K, fp8=True, select=plan.selection_path(T), **it)[0]
    del qi, ki, w
    sp = dict(best.get("sparse", {}))
    at_ms = P.sparse_ms(q, kv, v, idx, **sp)
    sel_pairs = plan.selected_pairs(T, T, K)
    at_bytes = 2 * sel_pairs * (D + (0 if s["mla"] else Dv)) * s["H_kv"] + 2 * T * H * (D + Dv)
    rep.add(name, T, "dsa/sparse_attention", at_ms, plan.sparse_flops(T, T, H, D, Dv, K), at_bytes)
    fl = ix_fl + plan.sparse_flops(T, T, H, D, Dv, K)
    total = default_ms + at_ms
    rep.add(
        name, T, "dsa/total", total, fl, None, note=f"{plan.selection_path(T)} selection + sparse attention"
    )
    rep.add(name, T, "dsa/total_threshold", pipe_ms + at_ms, fl, None, note="threshold selection + attention")
    if pipe8_ms:
        rep.add(name, T, "dsa/total_fp8_indexer", pipe8_ms + at_ms, fl, None, note="indexer in FP8")
    del q, kv, v, idx
    torch.cuda.empty_cache()
    dense = {}
    bk = rep.meta.setdefault("sdpa_backend", {})
    if name == "v32-671b":
        ms, bk["mha"] = P.sdpa_ms(1, 128, 128, T, 192, 128, backend=bk.get("mha", "best"))
        mha_bytes = 2 * T * 128 * (192 + 192 + 128 + 128)  # q, k, v, o once
        rep.add(name, T, "dense/sdpa_mha_192_128", ms, plan.dense_flops(T, T, 128, 192, 128), mha_bytes)
        rep.rows[-1]["backend"] = bk["mha"]
        dense["mha"] = ms
        fl_mla = plan.dense_flops(T, T, H, D, Dv)
        if T <= mla_max:
            ms, bk["mla"] = P.sdpa_ms(1, H, 1, T, D, Dv, expand=True, backend=bk.get("mla", "best"))
            rep.add(name, T, "dense/sdpa_mla_576_512", ms, fl_mla, backend=bk["mla"])
            rep.meta["mla_rate"] = fl_mla / ms
        elif "mla_rate" in rep.meta:
            ms = fl_mla / rep.meta["mla_rate"]
            note = f"extrapolated from T={mla_max} at equal TFLOP/s"
            rep.add(name, T, "dense/sdpa_mla_576_512", ms, fl_mla, extrapolated=True, note=note)
        dense["mla"] = ms
    else:
        ms, bk["gqa"] = P.sdpa_ms(1, H, s["H_kv"], T, D, Dv, backend=bk.get("gqa", "best"))
        gqa_bytes = 2 * T * (H * D + s["H_kv"] * (D + Dv) + H * Dv)  # q, k, v, o once
        rep.add(name, T, "dense/sdpa_gqa", ms, plan.dense_flops(T, T, H, D, Dv), gqa_bytes, backend=bk["gqa"])
        dense["gqa"] = ms
    torch.cuda.empty_cache()
    for k, ms in dense.items():
        fp8 = f" (FP8 indexer: {ms / (pipe8_ms + at_ms):.2f}x)" if pipe8_ms else ""
        rep.add(name, T, f"speedup/dense_{k}_over_dsa", ms / total, note=f"{ms / total:.2f}x{fp8}")


def decode(rep, s, T=131072, B=32):
    """One decode step: B queries, each against its own T cached tokens (671B shape, default settings)."""
    q, kv, v, qi, ki, w = P.attn_inputs(s, T, B=B, S=1, mla=True)
    K, H, D, Dv, h, d = s["K"], s["H"], s["D"], s["Dv"], s["h"], s["d"]
    bw = rep.meta["ceilings"]["copy_tbps"]
    pipe = P.time_ms(lambda: api.index_topk(qi, ki, w, K))
    idx = api.index_topk(qi, ki, w, K)
    att = P.sparse_ms(q, kv, v, idx)
    att1 = P.sparse_ms(q, kv, v, idx, splits=1)
    step = P.time_ms(lambda: api.dsa_layer_fused(q, kv, v, qi, ki, w, K))
    parts, mean_c, max_c = P.selection_stages_ms(qi, ki, w, K, False, bq=1)
    ix_bytes = B * T * d * 2 + B * h * (d * 2 + 4)  # index keys and queries read once
    at_bytes = B * K * D * 2 + B * H * (D + Dv) * 2  # K latent rows a sequence, q and o
    rep.add("v32-671b", T, "decode/dsa_index_topk", pipe, B * 2 * h * d * T, ix_bytes, batch=B)
    for part, ms in parts.items():
        rep.add(
            "v32-671b", T, f"decode/stage_{part}", ms, batch=B, candidates_mean=mean_c, candidates_max=max_c
        )
    fl_at = B * 2 * H * (D + Dv) * K
    rep.add("v32-671b", T, "decode/dsa_sparse_attention", att, fl_at, at_bytes, batch=B, note="split-K")
    rep.add("v32-671b", T, "decode/dsa_sparse_attention_1split", att1, fl_at, at_bytes, batch=B)
    rep.add(
        "v32-671b", T, "decode/dsa_step", step, None, ix_bytes + at_bytes, batch=B, note="dsa_layer_fused"
    )
    rep.add("v32-671b", T, "decode/dsa_floor", (ix_bytes + at_bytes) / bw / 1e9, None, ix_bytes + at_bytes)
    del q, kv, v, qi, ki, w
    torch.cuda.empty_cache()
    dense = P.dense_decode_ms(B, H, T, D, Dv)
    cache = B * T * D * 2
    rep.add("v32-671b", T, "decode/dense_torch_bmm", dense, B * 2 * H * (D + Dv) * T, cache, batch=B)
    floor = cache / bw / 1e9
    rep.add(
        "v32-671b", T, "decode/dense_floor", floor, None, cache, batch=B, note="cache once at the copy rate"
    )
    note = f"{dense / step:.2f}x torch dense; step = {step / floor:.3f} of the dense floor"
    rep.add(
        "v32-671b", T, "speedup/decode_dense_torch_over_dsa", dense / step, note=note, of_floor=step / floor
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lengths", default="4096,8192,16384,32768,65536,131072")
    ap.add_argument("--shapes", default="smollm2-135m,v32-671b")
    ap.add_argument("--stages", default="32768,131072", help="lengths at which to time each selection stage")
    ap.add_argument("--json", default=None, help="default: assets/bench/<h100|h200>.json")
    ap.add_argument("--mla-max", type=int, default=16384, help="largest T for the dense 576/512 SDPA")
    ap.add_argument("--no-tune", action="store_true")
    ap.add_argument("--no-decode", action="store_true")
    a = ap.parse_args()
    name = torch.cuda.get_device_name()
    path = a.json or f"assets/bench/{'h200' if 'H200' in name else 'h100'}.json"
    rep = Report(path, name)
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout
    rep.meta["commit"] = os.environ.get("GIT_COMMIT") or rev.strip() or None  # the device copy has no .git
    t0 = time.time()
    rep.meta["ceilings"] = {"matmul_bf16_tflops": P.matmul_tflops(), "copy_tbps": P.copy_tbps()}
    rep.meta["ceilings"]["read_tbps"] = P.read_tbps()
    print("measured ceilings", rep.meta["ceilings"], flush=True)
    best = {} if a.no_tune else tune(rep, SHAPES, a.shapes.split(","))
    rep.meta["tuned"] = best
    print("chosen settings", best, flush=True)
    stages = {int(x) for x in a.stages.split(",") if x}
    if not a.no_decode:
        decode(rep, SHAPES["v32-671b"])
    for shape in a.shapes.split(","):
        for T in [int(x) for x in a.lengths.split(",")]:
            try:
                prefill(rep, shape, SHAPES[shape], T, best, a.mla_max, stages)
            except Exception as e:  # keep the rest of the sweep; say what failed
                print(f"FAILED {shape} T={T}: {type(e).__name__}: {str(e)[:300]}", flush=True)
                rep.add(shape, T, "error", 0.0, note=f"{type(e).__name__}: {str(e)[:200]}")
            torch.cuda.empty_cache()
    rep.meta["wall_s"] = time.time() - t0
    rep.add("all", 0, "meta/wall", rep.meta["wall_s"] * 1e3)


if __name__ == "__main__":
    main()
