"""Print docs/gpu.md's tables from a run file of benchmarks/gpu_bench.py (so the page quotes the file).

Usage: python benchmarks/gpu_bench_tables.py assets/bench/h100.json
"""

import json
import sys


def _rows(d):
    out = {}
    for r in (
        d["rows"] + d["other_shapes"]["smollm2-135m"]["rows"] + d.get("decode", []) + d.get("stages", [])
    ):
        out[(r["shape_name"], r["T"], r["variant"])] = r
    return out


def _ms(r):
    return "–" if r is None else (f"{r['ms']:.3g}" if r["ms"] < 100 else f"{r['ms']:,.0f}")


def _rate(r, key, fmt="{:.0f}"):
    return "" if r is None or r.get(key) is None else " (" + fmt.format(r[key]) + ")"


def main(path):
    d = json.load(open(path))
    R = _rows(d)
    c = d["gpu"]["ceilings"]
    print(f"device {d['device_name']}, commit {d['gpu'].get('commit')}, ceilings {c}, wall {d['wall_s']} s\n")
    lengths = sorted({T for (_, T, _) in R if T})
    g = lambda s, T, v: R.get((s, T, v))  # noqa: E731
    s = "v32-671b"
    print("| T | indexer ms (TFLOP/s) | FP8 indexer ms | selection ms (TB/s) | selection / indexer "
          "| index_topk ms | earlier (histogram) | sparse attn ms (TFLOP/s) | **DSA ms** | dense MHA ms "
          "(TFLOP/s) | **MHA / DSA** | MLA / DSA |")  # fmt: skip
    print("|" + "---|" * 12)
    for T in lengths:
        ix, sel, at = g(s, T, "dsa/indexer"), g(s, T, "dsa/selection"), g(s, T, "dsa/sparse_attention")
        if ix is None:
            continue
        mha, mla = g(s, T, "speedup/dense_mha_over_dsa"), g(s, T, "speedup/dense_mla_over_dsa")
        dn, mla_ms = g(s, T, "dense/sdpa_mha_192_128"), g(s, T, "dense/sdpa_mla_576_512") or {}
        star = "*" if mla_ms.get("extrapolated") else ""
        mha = mha or {"ms": float("nan")}
        mla = mla or {"ms": float("nan")}
        print(
            f"| {T // 1024}K | {_ms(ix)}{_rate(ix, 'tflops')} | {_ms(g(s, T, 'dsa/indexer_fp8'))} "
            f"| {_ms(sel)}{_rate(sel, 'tbps', '{:.2f}')} | {sel['ms'] / ix['ms']:.0%} "
            f"| {_ms(g(s, T, 'dsa/index_topk'))} | {_ms(g(s, T, 'dsa/index_topk_histogram'))} "
            f"| {_ms(at)}{_rate(at, 'tflops')} | **{_ms(g(s, T, 'dsa/total'))}** "
            f"| {_ms(dn)}{_rate(dn, 'tflops')} | **{mha['ms']:.2f}×** | {mla['ms']:.1f}×{star} |"
        )  # fmt: skip
    s = "smollm2-135m"
    print("\n| T | fused index_topk ms | indexer alone, scores to HBM | earlier (histogram) | sparse attn ms "
          "| **DSA ms** | dense ms (TFLOP/s) | **dense / DSA** |")  # fmt: skip
    print("|" + "---|" * 8)
    for T in lengths:
        it = g(s, T, "dsa/index_topk")
        if it is None:
            continue
        dn = g(s, T, "dense/sdpa_gqa")
        print(
            f"| {T // 1024}K | {_ms(it)} | {_ms(g(s, T, 'dsa/indexer'))} "
            f"| {_ms(g(s, T, 'dsa/index_topk_histogram'))} "
            f"| {_ms(g(s, T, 'dsa/sparse_attention'))} | **{_ms(g(s, T, 'dsa/total'))}** "
            f"| {_ms(dn)}{_rate(dn, 'tflops')} | **{g(s, T, 'speedup/dense_gqa_over_dsa')['ms']:.2f}×** |"
        )  # fmt: skip
    print("\nstages (ms):")
    for (shape, T, v), r in sorted(R.items()):
        if "stage" in v:
            print(f"  {shape} T={T} {v}: {r['ms']:.3f} ms, candidates mean {r.get('candidates_mean', 0):.0f} "
                  f"max {r.get('candidates_max', 0):.0f}")  # fmt: skip
    print("\ndecode:")
    for r in d.get("decode", []):
        extra = _rate(r, "tbps", "{:.2f} TB/s") + _rate(r, "tflops", "{:.0f} TFLOP/s")
        print(f"  {r['variant']}: {r['ms']:.3f} ms{extra} {r.get('note', '')}")
    print("\ntuning:")
    for r in d.get("tuning", []):
        print(f"  {r['shape_name']} {r['variant']} {r['ms']:.3f} ms {r.get('note', '')}")
    for r in d["rows"] + d["other_shapes"]["smollm2-135m"]["rows"]:
        if r["variant"] == "dsa/index_topk" and r.get("redone"):
            print("REDONE rows:", r["shape_name"], r["T"], r["redone"])


if __name__ == "__main__":
    main(sys.argv[1])
