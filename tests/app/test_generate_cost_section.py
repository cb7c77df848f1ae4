"""The Cost page's decode section: the recorded CPU decode run beside the bytes a step reads, and the
recorded GPU decode rows (assets/bench/decode_cpu.json, h100.json, h200.json)."""

import json

from apphelp import ROOT, decode, figure_with, make_app, no_errors

from dsa_core.host import generate as gen


def test_cost_page_shows_the_recorded_decode_curve_beside_its_bytes():
    at = make_app(page="lessons/cost.py")
    no_errors(at)
    assert any("Decode: one generated token at a time" in h.value for h in at.subheader)
    rec = json.loads((ROOT / "assets" / "bench" / "decode_cpu.json").read_text())
    fig = figure_with(at, title_part="Measured time per token (ms)")
    by_name = {t["name"]: t for t in fig["data"]}
    contexts = [r["context"] for r in rec["steps"]]
    measured = [1e3 * r["dense_s"] for r in rec["steps"]]  # ms, as recorded
    assert abs(decode(by_name["dense"]["y"]) - measured).max() < 1e-3
    dense_mb = decode(by_name["dense: every K and V"]["y"])
    assert abs(dense_mb[-1] - gen.step_bytes(contexts[-1], rec["k"], "fp32")["dense"] / 1e6) < 1e-2
    gpu = [m.value for m in at.markdown if "rows `decode/*`" in m.value]
    assert gpu and all("DSA decode step" in g for g in gpu)
