"""A benchmark result (schema dsa-bench/1, docs/cost.md): its variants, the JSON file (save, load with
a schema check), plot columns per variant, and the CLI's text table of measured (predicted)
milliseconds with the crossovers. predict.py fills in the predictions; no torch here.
"""

import json

SCHEMA = "dsa-bench/1"
DSA_PARTS = ("dsa/indexer", "dsa/selection", "dsa/sparse_attention")
DENSE = ("dense/sdpa_causal", "dense/dense_attention", "dsa/masked_sparse_attention")


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
