"""Turn benchmark timings into measured-vs-predicted curves and crossovers (schema dsa-bench/1).

Predicted time = work from cost.py / a rate. Work per variant: FLOPs (2 per multiply-add, causal
half, FlashAttention/FlashMLA convention, docs/sources.md §1) for the attention and indexer variants,
fp32 logit bytes read for the selection. Each variant's rate is calibrated at the largest T where it
was measured, so the prediction is the cost model's *shape* (T² for dense and the indexer, T·k for
sparse attention) carried to every T; where measurement and prediction part, the model is missing
something (overheads at small T, caches, memory). Crossover: the first T where DSA's parts together
take less time than a dense variant, measured (log-interpolated between sweep points) and predicted.
No torch here: bench.py times, this file reasons. JSON schema: docs/cost.md.
"""

import datetime
import json
import math
import platform

from dsa_core.cost.flops import dense_cost, dsa_cost

SCHEMA = "dsa-bench/1"
DSA_PARTS = ("dsa/indexer", "dsa/selection", "dsa/sparse_attention")
DENSE = ("dense/sdpa_causal", "dense/dense_attention", "dsa/masked_sparse_attention")


def work(variant, shape, T):
    """(amount, unit) of work the cost model assigns to one variant at context T."""
    if variant in DENSE:
        return dense_cost(shape, T)["total_flops"], "flop"
    c = dsa_cost(shape, T)
    if variant == "dsa/indexer":
        return 2 * c["indexer/qk_macs"], "flop"
    if variant == "dsa/selection":
        return c["selection/logit_bytes"], "byte"
    if variant == "dsa/sparse_attention":
        return 2 * c["attention/core_macs"], "flop"
    raise ValueError(f"unknown variant {variant!r}")


def _rates(rows, shape):
    rates = {}
    for r in rows:
        if r["ms"] and r["variant"] in DENSE + DSA_PARTS:
            amount, unit = work(r["variant"], shape, r["T"])
            best = rates.get(r["variant"])
            if best is None or r["T"] >= best["calibrated_at_T"]:
                rates[r["variant"]] = {
                    "value": amount / (r["ms"] * 1e-3) / 1e9,
                    "calibrated_at_T": r["T"],
                    "unit": "GFLOP/s" if unit == "flop" else "GB/s",
                }
    return rates


def _predict(variant, shape, T, rates):
    if variant == "dsa/total":
        parts = [_predict(v, shape, T, rates) for v in DSA_PARTS]
        return None if None in parts else sum(parts)
    rate = rates.get(variant)
    return None if rate is None else work(variant, shape, T)[0] / (rate["value"] * 1e9) * 1e3


def _first_below(Ts, dsa_ms, dense_ms):
    """First T where dsa < dense, log-interpolated from the previous point; None if never."""
    prev = None
    for T, a, b in zip(Ts, dsa_ms, dense_ms):
        if a is None or b is None:
            prev = None
            continue
        if a < b:
            if prev is None:
                return float(T)
            (T0, d0), d1 = prev, math.log(a / b)
            return float(math.exp(math.log(T0) + (math.log(T) - math.log(T0)) * d0 / (d0 - d1)))
        prev = (T, math.log(a / b))
    return None


def summarise(rows, shape, env, wall_s):
    """Add predictions, dsa/total rows, rates and crossovers: the dsa-bench/1 dict. env: device,
    device_name, torch, threads, dtype (strings/ints from bench.py)."""
    rates = _rates(rows, shape)
    Ts = sorted({r["T"] for r in rows})
    by = {(r["T"], r["variant"]): r for r in rows}
    for T in Ts:
        parts = [by.get((T, v), {}).get("ms") for v in DSA_PARTS]
        rows.append(
            {
                "T": T,
                "variant": "dsa/total",
                "ms": None if None in parts else sum(parts),
                "repeats": 0,
                "sampled": 1.0,
                "skipped": None,
            }
        )
    for r in rows:
        r["predicted_ms"] = _predict(r["variant"], shape, r["T"], rates)
        r["work"], r["work_unit"] = (
            (None, None) if r["variant"] == "dsa/total" else work(r["variant"], shape, r["T"])
        )
    by = {(r["T"], r["variant"]): r for r in rows}
    grid = [int(2 ** (i / 8)) for i in range(8 * 8, 8 * 24 + 1)]  # 256 .. 16M tokens
    crossover = {}
    for dense in ("dense/sdpa_causal", "dense/dense_attention"):
        meas = _first_below(
            Ts, [by[(T, "dsa/total")]["ms"] for T in Ts], [by.get((T, dense), {}).get("ms") for T in Ts]
        )
        pred = _first_below(
            grid,
            [_predict("dsa/total", shape, T, rates) for T in grid],
            [_predict(dense, shape, T, rates) for T in grid],
        )
        far = [_predict(v, shape, grid[-1], rates) for v in ("dsa/total", dense)]
        crossover[dense] = {
            "measured_T": meas,
            "predicted_T": pred,
            "predicted_speedup_at_16M": None if None in far else far[1] / far[0],
        }
    return {
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **env,
        "host": platform.platform(),
        "batch": 1,
        "n_kv_heads": 1,
        "shape": {
            k: getattr(shape, k)
            for k in (
                "name",
                "n_heads",
                "qk_head_dim",
                "v_head_dim",
                "index_n_heads",
                "index_head_dim",
                "index_topk",
            )
        },
        "lengths": Ts,
        "rows": rows,
        "rates": rates,
        "crossover": crossover,
        "wall_s": wall_s,
    }


def save_json(result, path):
    with open(path, "w") as f:
        json.dump(result, f, indent=1)


def load_json(path):
    """Read a dsa-bench/1 file (the user's own or a recorded one in assets/bench/); checks the schema."""
    with open(path) as f:
        d = json.load(f)
    if d.get("schema") != SCHEMA:
        raise ValueError(f"{path}: schema {d.get('schema')!r}, expected {SCHEMA!r} (docs/cost.md)")
    missing = {"T", "variant", "ms"} - set(d["rows"][0]) if d.get("rows") else {"rows"}
    if missing:
        raise ValueError(f"{path}: rows lack {sorted(missing)}")
    return d


def series(result, variant):
    """Plot columns for one variant: {'T': [...], 'ms': [...], 'predicted_ms': [...]} (None = not run)."""
    rows = sorted((r for r in result["rows"] if r["variant"] == variant), key=lambda r: r["T"])
    return {
        "T": [r["T"] for r in rows],
        "ms": [r["ms"] for r in rows],
        "predicted_ms": [r.get("predicted_ms") for r in rows],
    }


def table(result):
    """Plain-text table of measured (predicted) milliseconds, variants as columns, plus crossovers."""
    variants = [
        "dense/sdpa_causal",
        "dense/dense_attention",
        "dsa/masked_sparse_attention",
        *DSA_PARTS,
        "dsa/total",
    ]

    def fmt(r):  # recorded files (e.g. assets/bench/h200.json) may carry no prediction
        if r.get("ms") is None:
            return "-"
        p = r.get("predicted_ms")
        return f"{r['ms']:.0f}" + ("" if p is None else f" ({p:.0f})")

    by = {(r["T"], r["variant"]): r for r in result["rows"]}
    lines = [
        f"{result['device']} ({result['device_name']}), torch {result['torch']}, "
        f"{result['threads']} threads, "
        f"{result['dtype']}, {result['shape']['name']}, load average {result.get('load_avg')}; "
        "ms measured (predicted)",
        "T".rjust(7) + "".join(v.split("/")[1][:16].rjust(18) for v in variants),
    ]
    for T in result["lengths"]:
        lines.append(str(T).rjust(7) + "".join(fmt(by.get((T, v), {})).rjust(18) for v in variants))
    for dense, c in result.get("crossover", {}).items():
        m = "not within the sweep" if c["measured_T"] is None else f"{c['measured_T']:,.0f}"
        p = "never" if c["predicted_T"] is None else f"{c['predicted_T']:,.0f}"
        lines.append(f"DSA faster than {dense}: measured at T = {m}; predicted at T = {p}")
    if result.get("wall_s") is not None:
        lines.append(f"wall time {result['wall_s']:.0f} s")
    return "\n".join(lines)
