"""dsa_core.cost.paper: the Figure 3 read-off and the stated model fitted to it."""

import pytest

from dsa_core.cost import paper as cp


def test_readoff_says_what_it_is():
    d = cp.readoff()
    assert "pixel" in d["caution"] and "NOT published" in d["caution"]
    assert [r["name"] for r in d["readings"]] == ["A", "B", "C"]
    for r in d["readings"]:
        assert set(r["uncertainty_usd"]) == {"prefill", "decode"}
        for c in cp.CURVES:
            assert len(r[c]) == len(r.get(f"position_k_{c.split('/')[0]}", r["position_k"]))


def test_points_skip_unreadable_columns():
    p = cp.points("prefill/dense")
    assert len(p["position"]) == len(p["cost"]) == len(p["err"]) == len(p["reading"])
    assert None not in p["cost"] and min(p["position"]) == 0 and max(p["position"]) == 128 * 1024


def test_fits_explain_the_curves():
    m = cp.fit_all()["main"]
    assert m["prefill/dense"]["r2"] > 0.999 and m["decode/dense"]["r2"] > 0.999
    assert m["prefill/dsa"]["r2"] > 0.99 and m["decode/dsa"]["r2"] > 0.98
    for c in cp.CURVES:  # every residual within about two pixels of the plot
        assert max(abs(r) for r in m[c]["residuals"]) < (0.01 if c.startswith("prefill") else 0.03)
        assert len(m[c]["grid"]["position"]) == len(m[c]["grid"]["cost"])
    # dense implies a plausible H800 attention throughput (FA3-class kernels: a few hundred TF/s)
    assert 400 < m["prefill/dense"]["implied_tflops_per_gpu"] < 900


def test_masked_mha_mode_explains_the_prefill_kink():
    f = cp.fit_all()
    with_switch = f["main"]["prefill/dsa"]
    without = f["alternatives"]["prefill/dsa without masked-MHA switch"]
    assert with_switch["r2"] > without["r2"]
    assert with_switch["rmse_usd"] < 0.5 * without["rmse_usd"]


def test_break_even_and_ratios_match_the_plot():
    assert 8_000 < cp.break_even("prefill") < 12_000  # plot: about 10K
    assert 3_500 < cp.break_even("decode") < 6_000  # plot: about 5K
    L = [128 * 1024]
    ratio = lambda ph: cp.modelled_cost(f"{ph}/dense", L)[0] / cp.modelled_cost(f"{ph}/dsa", L)[0]  # noqa: E731
    assert ratio("prefill") == pytest.approx(3.5, rel=0.1)
    assert ratio("decode") == pytest.approx(8.6, rel=0.1)


def test_explain_is_plain_text():
    lines = cp.explain()
    assert len(lines) >= 6 and all(isinstance(s, str) for s in lines)
    assert any("6,963" in s for s in lines)
