"""Benchmark DSA's fast path (dsa_core.fast) against dense attention on one GPU (made for an H200).

For T = 4K … 128K, one causal prefill (B = 1), at two shapes:
  v32-671b      128 heads on one latent KV head, d_qk 576, d_v 512, indexer 64 × 128, k = 2048
  smollm2-135m  9 query heads on 3 KV heads, d 64, indexer 4 × 32, k = 128 (dsa_core.config)
it times dense SDPA (671B: DeepSeek's MHA prefill mode 192/128, and the 576/512 MLA shape with
expanded KV, measured up to --mla-max and extrapolated by T² beyond, flagged) against DSA split into
indexer, selection and sparse attention; then one decode step (B = 32, 128K context).
FLOPs as FlashMLA / DeepGEMM count them (docs/sources.md §1); bytes are the fewest a part must move.
Prints a table and writes JSON (schema dsa-bench/1 of docs/cost.md plus extra keys: docs/gpu.md).
Usage: python benchmarks/gpu_bench.py [--lengths 4096,8192] [--json assets/bench/h200.json]
"""

import argparse
import json
import time

import gpu_bench_parts as P
import torch
from gpu_bench_json import to_dsa_bench
from gpu_bench_tune import tune

from dsa_core.fast import plan

SHAPES = {  # from dsa_core.config: V32_671B and SMOLLM2_HOST
    "v32-671b": dict(H=128, H_kv=1, D=576, Dv=512, h=64, d=128, K=2048, mla=True),
    "smollm2-135m": dict(H=9, H_kv=3, D=64, Dv=64, h=4, d=32, K=128, mla=False),
}
PEAK_TFLOPS, PEAK_TBPS = 790.0, 4.3  # measured H200 ceilings (docs/sources.md §5)


class Report:
    def __init__(self, path, device):
        self.path, self.rows, self.meta = (
            path,
            [],
            {"device": device, "torch": torch.__version__, "ceilings": {}},
        )

    def add(self, shape, T, variant, ms, flops=None, nbytes=None, **extra):
        row = {
            "device": self.meta["device"],
            "shape_name": shape,
            "T": T,
            "variant": variant,
            "part": variant.split("/")[-1],
            "ms": ms,
            "flops": flops,
            "bytes": nbytes,
            "tflops": flops / ms / 1e9 if flops and ms else None,
            "tbps": nbytes / ms / 1e9 if nbytes and ms else None,
            **extra,
        }
        row["pct_peak_flops"] = row["tflops"] and 100 * row["tflops"] / PEAK_TFLOPS
        row["pct_peak_bytes"] = row["tbps"] and 100 * row["tbps"] / PEAK_TBPS
        self.rows.append(row)
        f = lambda x, u: "" if x is None else f"{x:8.1f} {u}"  # noqa: E731
        print(
            f"{shape:13s} T={T:>6} {variant:26s} {ms:10.3f} ms {f(row['tflops'], 'TFLOP/s')} "
            f"{f(row['tbps'], 'TB/s')} {extra.get('note', '')}",
            flush=True,
        )
        if self.path:  # rewritten after every row: a cut-off run keeps its rows
            with open(self.path, "w") as fh:
                json.dump(to_dsa_bench(self.meta, self.rows), fh, indent=1)


def prefill(rep, name, s, T, best, mla_max):
    q, kv, v, qi, ki, w = P.attn_inputs(s, T, mla=s["mla"])
    H, D, Dv, K = s["H"], s["D"], s["Dv"], s["K"]
    best = best.get(name, {})
    it = dict(best.get("indexer", {}))
    sel = best.get("select")
    bq = it.pop("bq", plan.indexer_blocks(s["h"], s["d"]))
    ix_fl = plan.indexer_flops(T, T, s["h"], s["d"])
    ix_ms = P.indexer_only(qi, ki, w, bq, **it)
    rep.add(
        name, T, "dsa/indexer", ix_ms, ix_fl, 4 * plan.visible_pairs(T, T) + 2 * T * (s["h"] + 1) * s["d"]
    )
    pipe_ms, idx = P.index_topk_ms(qi, ki, w, K, bq=bq, select=sel, **it)
    rep.add(
        name,
        T,
        "dsa/selection",
        pipe_ms - ix_ms,
        None,
        4 * plan.visible_pairs(T, T),
        note="index_topk minus indexer",
    )
    ours, theirs, nbytes, agree = P.selection_last_chunk(qi, ki, w, K, bq, select=sel)
    rep.add(name, T, "dsa/selection_last_chunk", ours, None, nbytes, agree_with_torch=agree)
    rep.add(name, T, "torch/topk_last_chunk", theirs, None, nbytes)
    q8, k8, w8, ks = P.api.quantize_fp8(qi, ki, w)  # DeepSeek's FP8 indexer inputs
    quant_ms = P.time_ms(lambda: P.api.quantize_fp8(qi, ki, w))
    rep.add(name, T, "dsa/fp8_quantize", quant_ms, None, None, note="torch act_quant of q and k")
    rep.add(name, T, "dsa/indexer_fp8", P.indexer_only(q8, k8, w8, bq, k_scale=ks, **it), ix_fl, None)
    del q8, k8, w8, ks
    pipe8_ms = P.index_topk_ms(qi, ki, w, K, bq=bq, select=sel, fp8=True, **it)[0]
    del qi, ki, w
    sp = dict(best.get("sparse", {}))
    at_ms = P.sparse_ms(q, kv, v, idx, **sp)
    pairs = plan.selected_pairs(T, T, K)
    at_fl = plan.sparse_flops(T, T, H, D, Dv, K)
    rep.add(name, T, "dsa/sparse_attention", at_ms, at_fl, 2 * pairs * D * s["H_kv"] + 2 * T * H * (D + Dv))
    total, total8 = pipe_ms + at_ms, pipe8_ms + at_ms
    rep.add(name, T, "dsa/total", total, ix_fl + at_fl, None)
    rep.add(name, T, "dsa/total_fp8_indexer", total8, ix_fl + at_fl, None, note="indexer in FP8, as DeepSeek")
    del q, kv, v, idx
    torch.cuda.empty_cache()
    dense = {}
    bk = rep.meta.setdefault("sdpa_backend", {})
    if name == "v32-671b":
        ms, bk["mha"] = P.sdpa_ms(1, 128, 128, T, 192, 128, backend=bk.get("mha", "best"))
        rep.add(
            name,
            T,
            "dense/sdpa_mha_192_128",
            ms,
            plan.dense_flops(T, T, 128, 192, 128),
            None,
            backend=bk["mha"],
        )
        dense["mha"] = ms
        fl = plan.dense_flops(T, T, H, D, Dv)
        if T <= mla_max:
            ms, bk["mla"] = P.sdpa_ms(1, H, 1, T, D, Dv, expand=True, backend=bk.get("mla", "best"))
            rep.add(name, T, "dense/sdpa_mla_576_512", ms, fl, None, backend=bk["mla"])
            rep.meta["mla_rate"] = fl / ms
        elif "mla_rate" in rep.meta:
            ms = fl / rep.meta["mla_rate"]
            rep.add(
                name,
                T,
                "dense/sdpa_mla_576_512",
                ms,
                fl,
                None,
                extrapolated=True,
                note=f"extrapolated from T={mla_max} at equal TFLOP/s",
            )
        dense["mla"] = ms
    else:
        ms, bk["gqa"] = P.sdpa_ms(1, H, s["H_kv"], T, D, Dv, backend=bk.get("gqa", "best"))
        rep.add(name, T, "dense/sdpa_gqa", ms, plan.dense_flops(T, T, H, D, Dv), None, backend=bk["gqa"])
        dense["gqa"] = ms
    torch.cuda.empty_cache()
    for k, ms in dense.items():
        rep.add(
            name,
            T,
            f"speedup/dense_{k}_over_dsa",
            ms / total,
            None,
            None,
            note=f"{ms / total:.2f}x (FP8 indexer: {ms / total8:.2f}x)",
            fp8_indexer=ms / total8,
        )


def decode(rep, s, T=131072, B=32, best=None):
    """One decode step: B queries, each against its own T cached tokens."""
    q, kv, v, qi, ki, w = P.attn_inputs(s, T, B=B, S=1, mla=True)
    K, H, D, Dv = s["K"], s["H"], s["D"], s["Dv"]
    ix = dict((best or {}).get("indexer", {}))
    ix.pop("bq", None)
    sel = (best or {}).get("select")
    pipe = P.time_ms(lambda: P.api.index_topk(qi, ki, w, K, bq=1, select=sel, **ix))
    idx = P.api.index_topk(qi, ki, w, K, bq=1, select=sel, **ix)
    att = P.sparse_ms(q, kv, v, idx, **(best or {}).get("sparse", {}))
    ix_bytes = B * T * s["d"] * 2 + B * T * 4 * 2
    at_bytes = B * K * D * 2 + B * H * (D + Dv) * 2
    rep.add("v32-671b", T, "decode/dsa_index_topk", pipe, B * 2 * s["h"] * s["d"] * T, ix_bytes, batch=B)
    rep.add("v32-671b", T, "decode/dsa_sparse_attention", att, B * 2 * H * (D + Dv) * K, at_bytes, batch=B)
    rep.add("v32-671b", T, "decode/dsa_step", pipe + att, None, ix_bytes + at_bytes, batch=B)
    del q, kv, v, qi, ki, w
    torch.cuda.empty_cache()
    dense = P.dense_decode_ms(B, H, T, D, Dv)
    cache = B * T * D * 2
    rep.add("v32-671b", T, "decode/dense_torch_bmm", dense, B * 2 * H * (D + Dv) * T, cache, batch=B)
    rep.add(
        "v32-671b",
        T,
        "decode/dense_floor",
        cache / PEAK_TBPS / 1e9,
        None,
        cache,
        batch=B,
        note="cache bytes / 4.3 TB/s: a perfect dense kernel",
    )
    rep.add(
        "v32-671b",
        T,
        "speedup/decode_dense_torch_over_dsa",
        dense / (pipe + att),
        None,
        None,
        note=f"{dense / (pipe + att):.2f}x (vs floor {cache / PEAK_TBPS / 1e9 / (pipe + att):.2f}x)",
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lengths", default="4096,8192,16384,32768,65536,131072")
    ap.add_argument("--shapes", default="v32-671b,smollm2-135m")
    ap.add_argument("--json", default="assets/bench/h200.json")
    ap.add_argument("--mla-max", type=int, default=32768, help="largest T for the dense 576/512 SDPA")
    ap.add_argument("--no-tune", action="store_true")
    ap.add_argument("--no-decode", action="store_true")
    a = ap.parse_args()
    rep = Report(a.json, torch.cuda.get_device_name())
    t0 = time.time()
    rep.meta["ceilings"] = {"matmul_bf16_tflops": P.matmul_tflops(), "copy_tbps": P.copy_tbps()}
    print("measured ceilings", rep.meta["ceilings"], flush=True)
    best = {} if a.no_tune else tune(rep, SHAPES, a.shapes.split(","))
    rep.meta["tuned"] = best
    print("chosen settings", best, flush=True)
    for name in a.shapes.split(","):
        for T in [int(x) for x in a.lengths.split(",")]:
            try:
                prefill(rep, name, SHAPES[name], T, best, a.mla_max)
            except Exception as e:  # keep the rest of the sweep; say what failed
                print(f"FAILED {name} T={T}: {type(e).__name__}: {str(e)[:300]}", flush=True)
                rep.add(name, T, "error", 0.0, None, None, note=f"{type(e).__name__}: {str(e)[:200]}")
            torch.cuda.empty_cache()
    if not a.no_decode:
        decode(rep, SHAPES["v32-671b"], best=best.get("v32-671b"))
    rep.meta["wall_s"] = time.time() - t0
    rep.add("all", 0, "meta/wall", rep.meta["wall_s"] * 1e3, None, None)


if __name__ == "__main__":
    main()
