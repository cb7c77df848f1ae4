"""Timings for notebook 07: the median of several benchmark runs, and the recorded CPU result.

One run on a shared machine is noisy (other programs take the cores), so a live measurement is
repeated and each (T, part) keeps its median; the crossovers and fitted rates are then recomputed
from those medians with `dsa_core.cost.predict.summarise`. The notebook shows a recorded result by
default (`assets/bench/cpu_x86_64.json`, written by `python -m course.timing --write`), with the
machine and the load it was measured under; live timing is optional.

    python -m course.timing --runs 3 --write     # re-record on this machine
"""

import argparse
import pathlib
import statistics

from dsa_core.cost.predict import summarise
from dsa_core.cost.report import DSA_PARTS, load_json, save_json
from dsa_core.cost.shapes import T1
from dsa_core.cost.timing import run_bench

RECORDED = pathlib.Path(__file__).resolve().parents[1] / "assets" / "bench" / "cpu_x86_64.json"
LENGTHS = [512, 1024, 2048, 4096, 8192]


def _cpu_model():
    try:
        lines = pathlib.Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return None
    return next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), None)


def median_result(results):
    """Several dsa-bench/1 results of the same sweep -> one, each measured time the median of the runs."""
    first = results[0]
    rows = []
    for row in first["rows"]:
        if row["variant"] == "dsa/total":
            continue  # summarise adds it again from the medians of its parts
        times = [
            r2["ms"]
            for res in results
            for r2 in res["rows"]
            if (r2["T"], r2["variant"]) == (row["T"], row["variant"]) and r2["ms"] is not None
        ]
        keep = {k: row[k] for k in ("T", "variant", "repeats", "sampled", "skipped")}
        rows.append(keep | {"ms": statistics.median(times) if len(times) == len(results) else None})
    env = {k: first[k] for k in ("device", "device_name", "torch", "threads", "dtype")}
    env["load_avg"] = [x for res in results for x in res.get("load_avg", [])]
    env["runs"] = len(results)
    env["cpu_model"] = _cpu_model()
    shape = T1  # the shape dsa_core.cost.timing measures
    same = {k: getattr(shape, k) for k in first["shape"] if k != "name"} == {
        k: v for k, v in first["shape"].items() if k != "name"
    }
    assert same, f"recorded on {first['shape']}, not on {shape}"
    assert set(DSA_PARTS) <= {r["variant"] for r in rows}
    return summarise(rows, shape, env, sum(r["wall_s"] for r in results))


def median_bench(runs=3, lengths=None, call_limit_s=20):
    """Run the CPU benchmark `runs` times and keep the median of each measured time."""
    results = [
        run_bench(device="cpu", lengths=lengths or LENGTHS, call_limit_s=call_limit_s) for _ in range(runs)
    ]
    return median_result(results)


def recorded():
    """The recorded CPU result shipped in assets/bench/, or None when this checkout lacks it."""
    return load_json(RECORDED) if RECORDED.exists() else None


def main(argv=None):
    from dsa_core.cost.report import table

    p = argparse.ArgumentParser(prog="python -m course.timing", description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--write", action="store_true", help=f"write {RECORDED.relative_to(RECORDED.parents[2])}")
    p.add_argument("--from-json", nargs="+", help="combine these dsa-bench/1 files instead of running")
    a = p.parse_args(argv)
    if a.from_json:
        result = median_result([load_json(f) for f in a.from_json])
    else:
        result = median_bench(a.runs)
    print(table(result))
    if a.write:
        save_json(result, RECORDED)
        print(f"wrote {RECORDED}")


if __name__ == "__main__":
    main()
