"""Time dense attention against DSA's parts on this machine, and compare with the cost model.

Times, over a sweep of context lengths T (one causal prefill, B = 1): torch SDPA (causal), the
readable dense rung `dense_attention`, rung 1 `masked_sparse_attention` (both O(T²) memory: small T
only), and DSA split into indexer (`index_scores`), selection (`select_topk`) and gathered attention
(`sparse_attention`). Indexer + selection run block by block exactly as `chunked_index_topk` does;
at large T only evenly spaced query blocks are timed and scaled by visible pairs (`sampled` < 1).
Sparse attention gets random causal indices: the toy indexer's scores are random, so its picks are.
Speed claims live here and in the JSON, never in timed tests. Schema: docs/cost.md. Predictions and
crossovers: cost/predict.py; the clock and the inputs: cost/stopwatch.py.
CLI: python -m dsa_core.cost.timing [--device cpu|cuda] [--json OUT] [--lengths ...]
"""

import argparse
import platform
import time

import torch
import torch.nn.functional as F

from dsa_core.cost.predict import summarise
from dsa_core.cost.shapes import T1
from dsa_core.cost.stopwatch import best_time, indexer_and_selection, load_average, sweep_inputs
from dsa_core.dense import dense_attention
from dsa_core.sparse import masked_sparse_attention, sparse_attention

CPU_LENGTHS = [1024, 2048, 4096, 8192, 16384, 32768]
CUDA_LENGTHS = CPU_LENGTHS + [65536, 131072]


def bench_iter(
    device="cpu",
    shape=T1,
    lengths=None,
    dtype=torch.float32,
    chunk=256,
    max_matrix_bytes=2**28,
    max_pairs=2**24,
    call_limit_s=60.0,
    seed=0,
):
    """Run the sweep, yielding {'event': 'progress', 'done', 'total', 'T', 'variant', 'ms'} per timing
    and finally {'event': 'done', 'result': dict} (schema dsa-bench/1, docs/cost.md)."""
    lengths = lengths or (CUDA_LENGTHS if device == "cuda" else CPU_LENGTHS)
    variants = [
        "dense/sdpa_causal",
        "dense/dense_attention",
        "dsa/masked_sparse_attention",
        "dsa/indexer",
        "dsa/selection",
        "dsa/sparse_attention",
    ]
    rows, last, start, load0 = [], {}, time.perf_counter(), load_average()
    total, done = len(lengths) * len(variants), 0
    for T in lengths:
        q, k, v, qi, ki, w, idx = sweep_inputs(shape, T, device, dtype, seed)
        qt, kt, vt = (x.transpose(1, 2) for x in (q, k, v))  # [B, H, T, D]
        matrix = shape.n_heads * T * T * 4  # one fp32 [B,H,T,T]
        runs = {
            "dense/sdpa_causal": lambda: F.scaled_dot_product_attention(
                qt, kt, vt, is_causal=True, enable_gqa=True
            ),
            "dense/dense_attention": lambda: dense_attention(q, k, v),
            "dsa/masked_sparse_attention": lambda: masked_sparse_attention(q, k, v, idx),
            "dsa/sparse_attention": lambda: sparse_attention(q, k, v, idx),
        }
        split = None
        for name in variants:
            row = {"T": T, "variant": name, "ms": None, "repeats": 0, "sampled": 1.0, "skipped": None}
            grow = (T / last[name][0]) ** 2 if name in last else 1.0  # O(T²) growth bound
            if (
                name in runs
                and name not in ("dense/sdpa_causal", "dsa/sparse_attention")
                and matrix > max_matrix_bytes
            ):
                row["skipped"] = f"needs a {matrix / 2**30:.1f} GiB [B,H,T,T] matrix"
            elif name in runs and name in last and last[name][1] * grow > call_limit_s:
                row["skipped"] = f"would take about {last[name][1] * grow:.0f} s (limit {call_limit_s:.0f} s)"
            elif name in runs:
                s, row["repeats"] = best_time(runs[name], device)
                row["ms"], last[name] = 1e3 * s, (T, s)
            else:
                if split is None:
                    split = indexer_and_selection(qi, ki, w, shape.index_topk, device, chunk, max_pairs)
                s = split[0] if name == "dsa/indexer" else split[1]
                row.update(ms=1e3 * s, repeats=1, sampled=round(split[2], 4))
            rows.append(row)
            done += 1
            yield {
                "event": "progress",
                "done": done,
                "total": total,
                "T": T,
                "variant": name,
                "ms": row["ms"],
            }
    name = torch.cuda.get_device_name() if device == "cuda" else (platform.processor() or platform.machine())
    env = {
        "device": device,
        "device_name": name,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "dtype": str(dtype).replace("torch.", ""),
        "load_avg": [load0, load_average()],
    }  # 1-minute load at start and end: other work skews timings
    result = summarise(rows, shape, env, time.perf_counter() - start)
    yield {"event": "done", "result": result}


def run_bench(**kw):
    """bench_iter without the progress events: returns the result dict."""
    for event in bench_iter(**kw):
        if event["event"] == "done":
            return event["result"]


def main(argv=None):
    """Command line: print a table and optionally write the JSON."""
    from dsa_core.cost.report import save_json, table

    p = argparse.ArgumentParser(prog="python -m dsa_core.cost.timing", description=__doc__.split("\n")[0])
    p.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"]
    )
    p.add_argument("--json", help="write the result here (schema dsa-bench/1, docs/cost.md)")
    p.add_argument("--lengths", help="comma-separated context lengths, e.g. 1024,4096")
    p.add_argument("--limit-s", type=float, default=60.0, help="skip a variant once one call would pass this")
    a = p.parse_args(argv)
    lengths = [int(x) for x in a.lengths.split(",")] if a.lengths else None
    for ev in bench_iter(device=a.device, lengths=lengths, call_limit_s=a.limit_s):
        if ev["event"] == "progress":
            ms = "skipped" if ev["ms"] is None else f"{ev['ms']:.1f} ms"
            print(f"[{ev['done']}/{ev['total']}] T={ev['T']:>6} {ev['variant']:<30} {ms}", flush=True)
        else:
            print(table(ev["result"]))
            if a.json:
                save_json(ev["result"], a.json)
                print(f"wrote {a.json}")


if __name__ == "__main__":
    main()
