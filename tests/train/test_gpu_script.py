"""scripts/gpu_train.py (the recipe behind the shipped indexers and the stage-2 table) still runs: its
--smoke mode takes every step, stage 1 for two sizes, the held-out evaluation and stage 2 with the dense
control, on a random 2-layer model on this CPU, from a token file shaped like gpu_pack.py's."""

import json
import pathlib
import subprocess
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_gpu_train_smoke_runs_every_step_and_writes_its_report(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "tokens.npz",
        train=rng.integers(0, 49152, (16, 256), dtype=np.uint16),  # windows of 256: every step runs as
        val=rng.integers(0, 49152, (2, 256), dtype=np.uint16),  # at 512, in 11 s instead of 17 s
        eval_0=rng.integers(0, 49152, 200, dtype=np.uint16),
        n_eval=np.array(1),
    )
    out = tmp_path / "out"
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "gpu_train.py"),
            "--smoke",
            "--data",
            str(tmp_path / "tokens.npz"),
            "--out",
            str(out),
            "--configs",
            "2x16,1x16",
            "--steps",
            "2",
            "--probe-steps",
            "1",
            "--stage2-steps",
            "2",
            "--ks",
            "32",
            "--val-windows",
            "1",
            "--batch",
            "2",
            "--stage2-batch",
            "2",
            "--eval-ks",
            "32",
            "--short-ks",
            "32",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    report = json.loads((out / "gpu_train.json").read_text())
    assert set(report["stage1"]) == {"2x16", "1x16"} and report["stage2_from"] in report["stage1"]
    assert [r["run"] for r in report["stage2"]] == ["dense control", "DSA k=32"]
    for r in report["stage2"]:
        assert set(r["before"]) == set(r["after"]) == {"dense", "dsa", "window", "oracle"}
    evals = json.loads((out / "gpu_eval.json").read_text())  # the best file and the --init one, by position
    # (one 200-token text serves as long and short text here, so each file's two runs share a key)
    assert {key.split()[0] for key in evals} == {
        f"stage1_{report['stage2_from']}.safetensors",
        "smoke_init.safetensors",
    }
    assert all("0-1K" in r["mean"]["by_position"] for r in evals.values())
    assert {p.name for p in out.iterdir()} >= {
        "stage1_2x16.safetensors",
        "stage1_1x16.safetensors",
        "stage2_k32_indexers.safetensors",
    }
