"""The Explore page in AppTest: widgets change the figures' data as expected; bad input never crashes."""

import base64

import numpy as np
from apphelp import SHORT, decode, figure_with, figures, make_app, no_errors


def strip(at):
    return figure_with(at, meta_key="kept")


def maps(at):
    return figure_with(at, meta_key="kinds")


def test_landing_page_shows_the_linked_views(app):
    no_errors(app)
    text = " ".join(m.value for m in app.markdown)
    assert "the indexer kept **16**" in text and "dense attention" in text
    kinds = maps(app)["layout"]["meta"]["kinds"]
    assert kinds == ["scores", "mask", "oracle", "dense", "sparse", "diff"]
    assert len(figures(app)) >= 6
    labels = [m.label for m in app.metric]
    assert any("recall" in l.lower() for l in labels) and any("Output change" in l for l in labels)


def test_query_slider_moves_the_strip_and_the_maps_line(app):
    at = app.slider(key="query").set_value(20).run()
    no_errors(at)
    s = strip(at)
    assert s["layout"]["meta"]["query"] == 20
    xs = np.concatenate([decode(t["x"]) for t in s["data"] if t["type"] == "bar"])
    assert xs.max() <= 20  # only keys 0..query are drawn
    assert all(sh["y0"] == 20 for sh in maps(at)["layout"]["shapes"])


def test_k_changes_the_selection(app):
    app.slider(key="query").set_value(40).run()
    before = strip(app)["layout"]["meta"]["kept"]
    at = app.number_input(key="k").set_value(8).run()
    no_errors(at)
    assert before == 16 and strip(at)["layout"]["meta"]["kept"] == 8
    mask = decode(maps(at)["data"][1]["z"])
    rows = np.nan_to_num(mask).sum(1)
    assert rows[-1] == 8 and rows[3] == 4  # k kept per row; short rows keep all they see


def test_head_changes_the_dense_map(app):
    dense_mean = decode(maps(app)["data"][3]["z"])
    at = app.selectbox(key="head").set_value("head 2").run()
    no_errors(at)
    dense_h2 = decode(maps(at)["data"][3]["z"])
    assert not np.allclose(np.nan_to_num(dense_mean), np.nan_to_num(dense_h2))
    rows = np.nansum(dense_h2, 1)
    assert np.allclose(rows, 1, atol=1e-3)  # attention rows are probabilities


def test_attention_scales_are_fixed_and_labelled(app):
    data = maps(app)["data"]
    dense, sparse, scores = data[3], data[4], data[0]
    assert (dense["zmin"], dense["zmax"]) == (0, 1) and (sparse["zmin"], sparse["zmax"]) == (0, 1)
    titles = [a["text"] for a in maps(app)["layout"]["annotations"]]
    assert "index scores (unnormalised)" in titles and "dense attention [0, 1]" in titles
    assert scores["colorbar"]["title"]["text"] == "score" and dense["colorbar"]["title"]["text"] == "p (0–1)"


def test_k_zero_and_k_above_length_are_clamped_with_a_message():
    at = make_app(k=0)
    no_errors(at)
    assert any("k = 0" in w.value for w in at.warning)
    at = make_app(k=5000)
    no_errors(at)
    assert any("equals dense" in w.value for w in at.warning)
    assert np.allclose(
        np.nan_to_num(decode(maps(at)["data"][5]["z"])), 0, atol=1e-5
    )  # sparse − dense vanishes


def test_bad_inputs_never_crash():
    at = make_app(text="   ")
    no_errors(at)
    assert any("empty" in i.value for i in at.info)
    for text in [
        "Hi",
        "שלום עולם 👋🏽 مرحبا بالعالم 🎉 " * 3,
        "\x00\x01\x02ÿþ\x7f" * 50 + "ok",
        "word " * 200_000,
    ]:
        at = make_app(text=text, max_tokens=64)
        no_errors(at)
    assert any("only its first 64 tokens" in w.value for w in at.warning)  # the 1 MB text is cut, and says so


def test_long_text_maps_are_pooled_never_above_512_cells():
    at = make_app(text=(SHORT + " ") * 40, max_tokens=1024, k=64)
    no_errors(at)
    for f in figures(at):
        for t in f["data"]:
            if t["type"] == "heatmap":
                assert np.prod(decode(t["z"]).shape) <= 512 * 512
            if t["type"] == "image":  # the maps travel as PNGs: width x height from the PNG header
                head = base64.b64decode(t["source"].split(",", 1)[1][:44])
                assert int.from_bytes(head[16:20], "big") * int.from_bytes(head[20:24], "big") <= 192 * 192
    assert maps(at)["layout"]["meta"]["pooled"]
    assert sum(t["type"] == "image" for t in maps(at)["data"]) == 6
    at.toggle(key="zoom_on").set_value(True).run()
    no_errors(at)
    assert "zoom" in maps(at)["layout"]["meta"]["note"]


def test_whole_model_effect_button():
    at = make_app(max_tokens=64)
    at.button(key="run_effect").click().run()
    no_errors(at)
    labels = [m.label for m in at.metric]
    assert "Next-token KL at this query" in labels and "Top-1 prediction changed here?" in labels
    assert "Mean KL over the text" in labels


def test_token_grid_is_drawn_only_while_its_expander_is_open():
    """Short texts open the grid; a long text's grid (closed) sends no chart until opened (a lazy
    expander: a closed grid costs a rerun nothing)."""

    def grids(at):
        return [c for c in at.get("plotly_chart") if c.proto.id and "token_grid" in c.proto.id]

    assert len(grids(make_app())) == 1
    at = make_app(text=(SHORT + " ") * 8, max_tokens=512, k=16)
    no_errors(at)
    assert len(grids(at)) == 0
    at.session_state["grid_open"] = True
    at.run()
    no_errors(at)
    assert len(grids(at)) == 1
