"""Turn benchmark timings into measured-vs-predicted curves and crossovers (schema dsa-bench/1).

Predicted time = work from flops.py / a rate. Work per variant: FLOPs (2 per multiply-add, causal
half, FlashAttention/FlashMLA convention, docs/sources.md §1) for the attention and indexer variants,
fp32 logit bytes read for the selection. Each variant's rate is calibrated at the largest T where it
was measured, so the prediction is the cost model's *shape* (T² for dense and the indexer, T·k for
sparse attention) carried to every T; where measurement and prediction part, the model is missing
something (overheads at small T, caches, memory). Crossover: the first T where DSA's parts together
take less time than a dense variant, measured (log-interpolated between sweep points) and predicted.
No torch here: timing.py times, this file reasons; report.py reads and prints the result.
"""

import datetime
import math
import platform

from dsa_core.cost.flops import dense_cost, dsa_cost
from dsa_core.cost.report import DENSE, DSA_PARTS, SCHEMA


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
