"""Lay out gpu_bench.py's rows as a `dsa-bench/1` file (docs/cost.md), so the Cost page reads it.

Top level follows dsa-bench/1 for the 671B shape (`shape`, `lengths`, `rows` with `T`, `variant`,
`ms`); `dense/sdpa_causal` is DeepSeek's MHA-mode prefill (192/128) there, the GQA SDPA for the host.
Everything else rides along in extra keys, which dsa-bench/1 readers ignore:
  rows[*]: device, shape_name, part, flops, bytes, tflops, tbps, pct_peak_flops, pct_peak_bytes, note, ...
  "gpu": {"ceilings", "tuned", "sdpa_backend", "commit", "peaks"}; "tuning": [rows]; "decode": [rows];
  "stages": [rows] (the selection's stages, stage/<name>);
  "other_shapes": {"smollm2-135m": {"shape", "lengths", "rows"}}.
Usage: python benchmarks/gpu_bench_json.py RAW.json OUT.json (re-lay a raw list of rows).
"""

import datetime
import json
import sys

SHAPE_META = {
    "v32-671b": {
        "name": "v32-671b",
        "n_heads": 128,
        "qk_head_dim": 576,
        "v_head_dim": 512,
        "index_n_heads": 64,
        "index_head_dim": 128,
        "index_topk": 2048,
        "n_kv_heads": 1,
    },
    "smollm2-135m": {
        "name": "smollm2-135m",
        "n_heads": 9,
        "qk_head_dim": 64,
        "v_head_dim": 64,
        "index_n_heads": 4,
        "index_head_dim": 64,
        "index_topk": 128,
        "n_kv_heads": 3,
    },
}
ALIAS = {"dense/sdpa_mha_192_128": "dense/sdpa_causal", "dense/sdpa_gqa": "dense/sdpa_causal"}


def _prefill(rows, name):
    out = [
        r
        for r in rows
        if r["shape_name"] == name
        and r["variant"].split("/")[0] in ("dsa", "dense", "speedup")
        and not r["variant"].startswith("speedup/decode")
    ]
    out += [dict(r, variant=ALIAS[r["variant"]], alias_of=r["variant"]) for r in out if r["variant"] in ALIAS]
    return out


def to_dsa_bench(meta, rows):
    """meta (device, torch, ceilings, tuned, sdpa_backend, wall_s, ...) + raw rows -> dsa-bench/1 dict.
    The peaks are the ceilings measured in the same run."""
    c = meta.get("ceilings") or {}
    peaks = (c.get("matmul_bf16_tflops"), c.get("copy_tbps"))
    main = _prefill(rows, "v32-671b")
    host = _prefill(rows, "smollm2-135m")
    return {
        "schema": "dsa-bench/1",
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "device": "cuda",
        "device_name": meta.get("device"),
        "torch": meta.get("torch"),
        "threads": None,
        "dtype": "bfloat16",
        "host": "project GPU machine (one H100 or H200: device_name)",
        "batch": 1,
        "n_kv_heads": 1,
        "shape": SHAPE_META["v32-671b"],
        "lengths": sorted({r["T"] for r in main}),
        "rows": main,
        "rates": {},
        "crossover": {},
        "wall_s": meta.get("wall_s"),
        "gpu": {k: meta.get(k) for k in ("ceilings", "tuned", "sdpa_backend", "commit", "command", "tests")}
        | {"peaks": {"tflops": peaks[0], "tbps": peaks[1]}},
        "tuning": [r for r in rows if r["variant"].startswith("tune/")],
        "decode": [r for r in rows if "decode" in r["variant"]],
        "stages": [r for r in rows if r["variant"].startswith("stage/")],
        "other_shapes": {
            "smollm2-135m": {
                "shape": SHAPE_META["smollm2-135m"],
                "lengths": sorted({r["T"] for r in host}),
                "rows": host,
            }
        },
    }


if __name__ == "__main__":
    raw = json.load(open(sys.argv[1]))
    meta = {k: v for k, v in raw.items() if k != "rows"}
    with open(sys.argv[2], "w") as f:
        json.dump(to_dsa_bench(meta, raw["rows"]), f, indent=1)
