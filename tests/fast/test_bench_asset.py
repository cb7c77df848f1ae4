"""The recorded GPU runs (assets/bench/h200.json, h100.json) load as dsa-bench/1 and hold their parts."""

import json
import pathlib

import pytest

from dsa_core.cost.report import load_json

BENCH = pathlib.Path(__file__).resolve().parents[2] / "assets" / "bench"


def test_h200_results_load_and_cover_the_sweep():
    d = load_json(BENCH / "h200.json")
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


def test_h100_run_records_its_device_commit_ceilings_and_parts():
    d = load_json(BENCH / "h100.json")
    assert "H100" in d["device_name"] and d["gpu"]["commit"] == "3b224a9"
    c = d["gpu"]["ceilings"]
    assert 500 < c["matmul_bf16_tflops"] < 1000 and 2 < c["copy_tbps"] < 4 and c["read_tbps"] > 2
    host = d["other_shapes"]["smollm2-135m"]
    want = {"dsa/index_topk", "dsa/index_topk_histogram", "dsa/indexer", "dsa/sparse_attention", "dsa/total"}
    have = {(r["T"], r["variant"]) for r in host["rows"] if r["ms"]}
    assert all((T, v) in have for T in host["lengths"] for v in want | {"dense/sdpa_causal"})
    have = {(r["T"], r["variant"]) for r in d["rows"] if r["ms"]}
    assert all((T, v) in have for T in d["lengths"] for v in want | {"dsa/indexer_fp8"})
    assert "cut_off" in d["gpu"]  # the run stopped before dense MHA at 131072: said in the file
    decode = {r["variant"]: r for r in d["decode"]}
    assert decode["decode/dsa_step"]["ms"] < decode["decode/dense_floor"]["ms"]
    assert {r["variant"] for r in d["stages"]} >= {"stage/pass_a", "stage/collect", "stage/final"}


@pytest.mark.parametrize("name", ["h200.json", "h100.json"])
def test_rates_in_the_file_are_consistent_with_its_times(name):
    d = json.loads((BENCH / name).read_text())
    for r in d["rows"] + d["other_shapes"]["smollm2-135m"]["rows"]:
        if r.get("tflops") and r.get("flops"):
            assert abs(r["flops"] / r["ms"] / 1e9 - r["tflops"]) < 1e-6 * r["tflops"]
