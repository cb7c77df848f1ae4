"""The shipped indexers' model card says what the files beside it measured, and they still measure it."""

import json
import pathlib
import subprocess
import sys

import pytest
import torch

from dsa_core.host.indexers import DEFAULT_PATH, load_default_indexers
from dsa_core.host.load import load_model
from dsa_core.train.evaluate import LAYER_KEYS, evaluate_files

ROOT = pathlib.Path(__file__).resolve().parents[2]
CARD_DIR = ROOT / "assets" / "indexers"
EVAL = [ROOT / "assets" / "texts" / "eval" / "handbook_foreword.txt"]


def test_model_card_is_generated_from_the_measured_files():
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "model_card.py"), "--check"], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.slow
def test_shipped_indexers_reproduce_the_recorded_k128_evaluation():
    """Re-runs a recorded evaluation of the shipped indexers and compares: the command of
    eval_k128_512_ci.json (one held-out text at 512 tokens, about 20 s on 2 cores; eval_k128_1024_ci.json
    and the card's 2,048-token eval_k128.json run the same code on longer texts)."""
    recorded = json.loads((CARD_DIR / "eval_k128_512_ci.json").read_text())
    loaded = load_model()
    load_default_indexers(loaded.model, DEFAULT_PATH)
    with torch.inference_mode():
        report = evaluate_files(loaded, EVAL, k=128, tokens=recorded["tokens"])
    for now, then in zip(report["layers"], recorded["layers"]):
        for key in LAYER_KEYS:
            assert now[key] == pytest.approx(then[key], abs=2e-3), (now["layer"], key)
    for mode in ("dense", "dsa", "window", "oracle"):
        assert report["perplexity"][mode] == pytest.approx(recorded["perplexity"][mode], rel=2e-3), mode
    # and the card's targets hold for what was just measured
    assert report["mean"]["indexer_over_oracle"] >= 0.95
    assert report["mean"]["layers_indexer_above_window"] == len(report["layers"])
    assert report["perplexity"]["dsa_vs_dense"] <= 0.03
