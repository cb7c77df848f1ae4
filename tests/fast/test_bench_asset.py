"""The recorded H200 results (assets/bench/h200.json) load as dsa-bench/1 and hold every measured part."""

import json
import pathlib

from dsa_core.cost.report import load_json

ASSET = pathlib.Path(__file__).resolve().parents[2] / "assets" / "bench" / "h200.json"


def test_h200_results_load_and_cover_the_sweep():
    d = load_json(ASSET)
    assert d["device"] == "cuda" and "H200" in d["device_name"]
    want = {"dense/sdpa_causal", "dsa/indexer", "dsa/selection", "dsa/sparse_attention", "dsa/total"}
    for rows, lengths in (
        (d["rows"], d["lengths"]),
        (d["other_shapes"]["smollm2-135m"]["rows"], d["other_shapes"]["smollm2-135m"]["lengths"]),
    ):
        have = {(r["T"], r["variant"]) for r in rows if r["ms"]}
        assert all((T, v) in have for T in lengths for v in want)
    assert lengths == [4096, 8192, 16384, 32768, 65536, 131072]
    assert {r["variant"] for r in d["decode"]} >= {"decode/dsa_step", "decode/dense_torch_bmm"}


def test_rates_in_the_file_are_consistent_with_its_times():
    d = json.loads(ASSET.read_text())
    for r in d["rows"]:
        if r.get("tflops") and r.get("flops"):
            assert abs(r["flops"] / r["ms"] / 1e9 - r["tflops"]) < 1e-6 * r["tflops"]
