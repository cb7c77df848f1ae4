"""The Family page: each member's picks for the query, recall against the ideal, the layer overlap with
the computing layers marked, perplexities behind one button, and the savings table from the cost model."""

import numpy as np
from apphelp import decode, figure_with, figures, make_app, no_errors

PAGE = "lessons/family.py"


def test_page_shows_every_member_and_the_layer_overlap():
    at = make_app(page=PAGE, k=16)
    no_errors(at)
    picks = figure_with(at, title_part="Which keys each member keeps")
    names = list(picks["data"][0]["y"])
    assert names == ["ideal top-k", "token top-k", "block top-n", "compressed keys", "shared indices"]
    z = decode(picks["data"][0]["z"])
    assert z.shape[0] == 5 and (z.sum(1) <= 16 + 1e-6).all()  # every member within the budget k = 16
    overlap = figure_with(at, title_part="Top-k overlap between layers")
    ov = decode(overlap["data"][0]["z"])
    assert ov.shape == (30, 30) and np.allclose(np.diag(ov), 1) and np.allclose(ov, ov.T)
    computing = decode(overlap["data"][1]["x"])
    assert list(computing) == [0, 4, 8, 12, 16, 20, 24, 28]  # every 4th layer by default
    rows = at.dataframe[0].value  # the savings table
    assert list(rows["member"]) == ["token top-k", "block top-n", "compressed keys", "shared indices"]
    ratio = dict(zip(rows["member"], rows["indexer vs token top-k"]))
    assert abs(ratio["compressed keys"] - 0.25) < 1e-9 and abs(ratio["shared indices"] - 8 / 30) < 1e-9


def test_member_parameters_and_rule_change_the_picks():
    at = make_app(page=PAGE, k=16)
    before = decode(figure_with(at, title_part="Which keys each member keeps")["data"][0]["z"])
    at.radio(key="fam_rule").set_value("overlap").run()
    no_errors(at)
    at.select_slider(key="fam_c").set_value(2).run()
    no_errors(at)
    after = decode(figure_with(at, title_part="Which keys each member keeps")["data"][0]["z"])
    assert np.array_equal(before[:3], after[:3])  # ideal, token, block unchanged
    assert not np.array_equal(before[3], after[3]) or not np.array_equal(before[4], after[4])
    overlap = figure_with(at, title_part="Top-k overlap between layers")
    assert len(decode(overlap["data"][1]["x"])) == 8  # as many computing layers, chosen by overlap


def test_compressed_member_offers_the_pooled_key_weights_at_c4_only():
    at = make_app(page=PAGE, k=16)
    assert at.radio(key="fam_cw").value == "pooled"  # the default at c = 4: the weights made for it
    pooled = decode(figure_with(at, title_part="Which keys each member keeps")["data"][0]["z"])
    at.radio(key="fam_cw").set_value("token").run()
    no_errors(at)
    token = decode(figure_with(at, title_part="Which keys each member keeps")["data"][0]["z"])
    assert np.array_equal(pooled[:3], token[:3]) and np.array_equal(pooled[4], token[4])
    assert not np.array_equal(pooled[3], token[3])  # only the compressed member changes
    assert any("trained for token keys (shipped)" in c.value for c in at.caption)
    at.select_slider(key="fam_c").set_value(2).run()
    no_errors(at)
    assert any("exist for c = 4 only" in c.value for c in at.caption)
    at.select_slider(key="fam_c").set_value(4).run()
    assert at.radio(key="fam_cw").value == "pooled"


def test_perplexity_button_runs_every_member():
    at = make_app(page=PAGE, k=16)
    at.button(key="fam_ppl_go").click().run()
    no_errors(at)
    table = at.dataframe[0].value
    assert list(table["run"]) == ["dense", "token top-k", "block top-n", "compressed keys", "shared indices"]
    assert (table["perplexity"] > 1).all()


def test_cost_page_family_section_follows_k():
    at = make_app(page="lessons/cost.py")
    no_errors(at)
    curves = next(f for f in figures(at) if any(t["name"] == "compressed keys (c = 4)" for t in f["data"]))
    y = {t["name"]: decode(t["y"]) for t in curves["data"]}
    assert np.allclose(y["compressed keys (c = 4)"], y["token top-k"] / 4)
    assert np.allclose(y["block top-n (b = 128)"], y["token top-k"])  # blocks score every key
    shares = at.dataframe[0].value
    assert (shares["L = 200,000"] > shares["L = 8,192"]).all()  # the indexer's share grows with L


def _trace_of_the_page():
    """The trace the page analysed, from the server's byte budget: (T, its bytes)."""
    from lessons import budget, cache

    entries = cache.shared()[0].entries
    prep, rec = next(e.value for key, e in reversed(entries.items()) if key[0] == "trace")
    return len(rec.tokens), budget.nbytes(rec)


def test_work_that_does_not_fit_the_session_budget_is_refused_before_it_runs(monkeypatch):
    """No thrash: above a session's share of the budget the page says so before any family work runs,
    and offers the largest k that fits."""
    from lessons import budget
    from lessons import family_cache as fc

    at = make_app(page=PAGE, k=16)
    no_errors(at)
    T, trace_bytes = _trace_of_the_page()
    monkeypatch.setattr(fc, "_layers", lambda: 30)
    monkeypatch.setattr(budget, "SESSION_BYTES", fc.working_bytes(T, 4, trace_bytes))  # k = 4 fits, 8 not
    assert fc.largest_k_that_fits(T, 16, trace_bytes) == 4
    at = make_app(page=PAGE, k=16)
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    assert "this page would hold about" in warning and "Use k = 4 or less" in warning
    assert not figures(at) and not any(b.key == "fam_ppl_go" for b in at.button)  # nothing ran
    next(b for b in at.button if b.label == "Use k = 4").click().run()
    no_errors(at)
    assert at.session_state["k"] == 4
    z = decode(figure_with(at, title_part="Which keys each member keeps")["data"][0]["z"])
    assert (z.sum(1) <= 4 + 1e-6).all()
