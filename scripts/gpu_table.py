"""The stage-2 perplexity table of assets/indexers/MODEL_CARD.md, read from the GPU runs' logs.

    python scripts/gpu_table.py [--write] [LOG...]      # default: the 8,192-token run (RUN below)

Each run of scripts/gpu_train.py logs one line per stage-2 run: "<run>: before {...} after {...}"
with perplexities on the held-out texts (dense, DSA, window, oracle top-k in every layer). The table
gives DSA against two references: the same model's dense attention, and the dense control run (the
same data, steps and learning rate with dense attention), which separates what sparse training
recovers from what the model learned from the (Debian) training text itself.
"""

import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
LINE = re.compile(r"\] (dense control|DSA k=\d+): before (\{.*?\}) after (\{.*?\})$")


def read(paths):
    runs = {}
    for path in paths:
        for line in pathlib.Path(path).read_text().splitlines():
            if m := LINE.search(line):
                runs[m[1]] = {"before": json.loads(m[2]), "after": json.loads(m[3])}
    return runs


def pct(a, b):
    return f"{100 * (a / b - 1):+.1f} %"


def table(runs):
    control = runs.get("dense control", {}).get("after", {}).get("dense")
    rows = [
        "| k | dense (original) | DSA after stage 1 | window | oracle top-k | DSA after stage 2 "
        "| its own dense | dense control | DSA vs own dense | DSA vs control |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in sorted((n for n in runs if n.startswith("DSA")), key=lambda n: int(n.split("=")[1])):
        b, a = runs[name]["before"], runs[name]["after"]
        rows.append(
            f"| {name.split('=')[1]} | {b['dense']:.2f} | {b['dsa']:.2f} ({pct(b['dsa'], b['dense'])}) "
            f"| {b['window']:.2f} ({pct(b['window'], b['dense'])}) "
            f"| {b['oracle']:.2f} ({pct(b['oracle'], b['dense'])}) "
            f"| {a['dsa']:.2f} | {a['dense']:.2f} | {control:.2f} | {pct(a['dsa'], a['dense'])} "
            f"| {pct(a['dsa'], control)} |"
        )
    return "\n".join(rows)


STAGE2_JSON = ROOT / "assets" / "indexers" / "stage2.json"
RUN = ROOT / "assets" / "indexers" / "runs" / "h200_run3_8192.log"  # runs 1-2: the 2,048-token release


if __name__ == "__main__":
    write = (
        "--write" in sys.argv
    )  # also store the parsed runs as assets/indexers/stage2.json (the app reads it)
    logs = [a for a in sys.argv[1:] if a != "--write"] or [RUN]
    runs = read(logs)
    if write:
        STAGE2_JSON.write_text(json.dumps(runs, indent=1) + "\n")
    print(table(runs))
