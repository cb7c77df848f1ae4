"""dsa_core.viz on its own: pooling bounds and exactness, unique labels, export, and the view numbers."""

import numpy as np
import pytest

from dsa_core import viz
from dsa_core.viz import pool


def test_pooling_never_exceeds_the_budget_and_ignores_the_future():
    z = np.random.default_rng(0).random((1000, 1000)).astype(np.float32)
    for how in ("max", "mean"):
        p, re, ce = pool.pool_matrix(z, 192, how, causal=True)
        assert p.shape[0] <= 192 and p.shape[1] <= 192 and p.dtype == np.float32
        assert np.isnan(p[0, -1]) and not np.isnan(p[-1, 0])  # all-future block stays NaN
    b = re[1]
    assert np.isclose(p[-1, 0], z[re[-1] :, :b].mean())  # mean of a fully visible block
    small, _, _ = pool.pool_matrix(z[:50, :50], 192, "max", causal=True)
    assert small.shape == (50, 50) and np.isnan(small[0, 1])  # no pooling needed: exact copy


def test_heatmaps_use_unique_labels_and_float32():
    toks = ["the", "cat", "the", "cat"]
    fig = viz.heatmap(np.tril(np.ones((4, 4), np.float32)) / 4, "dense", toks)
    labels = fig.layout.xaxis.ticktext
    assert len(set(labels)) == 4 and labels[0] == "0:the"
    assert fig.data[0].z.dtype == np.float32
    assert (fig.data[0].zmin, fig.data[0].zmax) == (0, 1)


def test_export_round_trips_numbers():
    fig = viz.baseline_bars({"DSA indexer": 0.5, "random": 0.25})
    assert "DSA indexer" in viz.figure_csv(fig) and "0.25" in viz.figure_json(fig)
    cfg = viz.export_config("x", "svg")
    assert cfg["toImageButtonOptions"]["format"] == "svg"
    with pytest.raises(ValueError):
        viz.export_config("x", "gif")


def test_token_html_escapes_and_labels():
    html = viz.token_html(["<b>", "x", "y"], 2, [0], np.array([1.0, 0, 0]), [1])
    assert "&lt;b&gt;" in html and "kept by the indexer" in html and "missed by the indexer" in html


def test_row_pickers_cover_every_row_and_stay_out_of_exports():
    """Plotly can't select heatmap cells: invisible markers over the picked panels make rows clickable."""
    z = np.tril(np.random.default_rng(1).random((300, 300))).astype(np.float32)
    fig = viz.aligned_maps(
        {"scores": z, "dense": z, "mask": z},
        tokens=[f"t{i}" for i in range(300)],
        pick_rows=("scores", "dense"),
    )
    pickers = [t for t in fig.data if t.type == "scatter"]
    assert len(pickers) == 2 and fig.layout.clickmode == "event+select"
    rows = fig.data[0].y  # pooled row starts of the first map
    assert set(np.unique(pickers[0].y)) == set(rows.tolist()) and pickers[1].xaxis == "x2"
    assert all(t.marker.opacity == 0 for t in pickers) and "t0" in pickers[0].text[0]
    assert "row picker" not in viz.figure_csv(fig) and [t.type for t in fig.data[:3]] == ["heatmap"] * 3
    assert viz.aligned_maps({"dense": z}).layout.clickmode == "event"
    # images: one marker a row (the browser draws every marker), found from anywhere on the panel
    img = viz.aligned_maps(
        {"scores": z}, tokens=[f"t{i}" for i in range(300)], pick_rows=("scores",), cells="image"
    )
    (picker,) = [t for t in img.data if t.type == "scatter"]
    assert len(picker.y) == len(np.unique(picker.y)) == 150  # 300 rows, pooled by 2
    assert img.layout.hoverdistance == -1


def test_kept_token_chips_are_solid_and_legible_on_any_theme():
    from dsa_core.viz import tokens

    for score in np.linspace(0, 1, 21):
        css = tokens._shade(score, 0.0, 1.0)
        bg, fg = css.split(";")
        rgb = [int(bg[-6:][i : i + 2], 16) for i in (0, 2, 4)]
        lum, text = tokens._luminance(rgb), (1.0 if fg.endswith("#fff") else 0.0)
        ratio = (max(lum, text) + 0.05) / (min(lum, text) + 0.05)
        assert "rgba" not in css and ratio >= 4.5, (score, css, ratio)  # WCAG AA for normal text


def test_maps_as_images_keep_colours_layout_and_exact_exports():
    """cells="image": each map travels as a PNG of the heatmap's colours (NaN transparent, so the grey
    future shows through), far fewer bytes; the exports hold the same exact numbers as the heatmaps'."""
    import base64
    import zlib

    import plotly.io as pio

    from dsa_core.viz import raster

    rng = np.random.default_rng(2)
    z = np.tril(rng.random((600, 600))).astype(np.float32)
    maps = {"scores": z, "dense": z / 2, "mask": (z > 0.5).astype(np.float32)}
    toks = [f"t{i}" for i in range(600)]
    heat = viz.aligned_maps(maps, toks, query=300, pick_rows=("scores", "dense"))
    img = viz.aligned_maps(maps, toks, query=300, pick_rows=("scores", "dense"), cells="image")
    assert [t.type for t in img.data if t.type == "image"] == ["image"] * 3
    assert viz.figure_csv(img) == viz.figure_csv(heat) and viz.figure_json(img) == viz.figure_json(heat)
    assert len(pio.to_json(img)) < len(pio.to_json(heat)) / 3
    assert img.layout.yaxis.range == heat.layout.yaxis.range and img.layout.shapes == heat.layout.shapes
    bars = [t for t in img.data if t.type == "heatmap"]  # colour-bar carriers: one cell, invisible
    assert {t.colorbar.title.text for t in bars} == {"score", "p (0–1)"} and all(t.opacity == 0 for t in bars)
    # decode the dense panel's PNG: each pixel is the colour scale at the cell's value, NaN transparent
    im = next(t for t in img.data if t.type == "image" and t.name == "dense")
    raw = base64.b64decode(im.source.split(",", 1)[1])
    w, h = int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")
    idat = raw[raw.index(b"IDAT") + 4 : raw.index(b"IEND") - 8]
    px = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + 4 * w)[:, 1:].reshape(h, w, 4)
    cell = heat.data[1]  # the dense heatmap: same cells
    assert (w, h) == (len(cell.x), len(cell.y)) and (im.dx, im.x0) == (cell.x[1] - cell.x[0], cell.x[0])
    zz = np.asarray(cell.z)
    assert (px[..., 3] == 0).tolist() == np.isnan(zz).tolist()
    r, c = 100, 20
    at = [float(a) for a, _ in cell.colorscale]  # the heatmap's own stops, interpolated in RGB
    rgb = np.array([raster._rgb(b) for _, b in cell.colorscale])
    assert px[r, c, :3].tolist() == [round(np.interp(zz[r, c], at, rgb[:, ch])) for ch in range(3)]
    # the power scale's point: attention 1e-4, 1e-3 and 1e-2 get three different colours (a 256-level
    # table merged the first two, and the maps of a real model came out near-uniform)
    small = raster.colours(np.array([[1e-4, 1e-3, 1e-2]]), cell.colorscale, 0.0, 1.0)[0, :, :3]
    assert len({tuple(p) for p in small.tolist()}) == 3
    with pytest.raises(ValueError):
        viz.aligned_maps(maps, cells="png")


def test_long_query_strips_draw_stems_and_export_each_keys_value():
    """Above STRIP_BARS keys the strip draws one path of stems a kind (kept on top) instead of a bar per
    key; CSV/JSON still give every key's own value, and the hover names the key."""
    from dsa_core.viz import strips

    n = strips.STRIP_BARS + 144
    rng = np.random.default_rng(3)
    scores, dense = rng.random(n).astype(np.float32), (rng.random(n) / n).astype(np.float32)
    kept = [3, 50, n - 1]
    fig = viz.query_strip(scores, dense, kept, n - 1, [f"t{i}" for i in range(n)])
    assert {t.type for t in fig.data} == {"scatter"} and fig.data[-1].name == "kept by top-k"
    data = viz.figure_data(fig)
    assert data["kept by top-k"]["x"].tolist() == kept and np.allclose(
        data["kept by top-k"]["y"], scores[kept]
    )
    dropped = [k for k in data if k.startswith("dropped") and data[k]["y"].max() < 1 / n]  # the dense panel
    assert len(dropped) == 1 and len(data[dropped[0]]["x"]) == n - 3
    top = fig.data[0]  # dropped scores: 0 -> value -> 0 per key, the label on the value's point
    assert top.text[1] == "0:t0" and top.y[1] == scores[0] and top.y[0] == top.y[2] == 0
    short = viz.query_strip(scores[:40], dense[:40], [3], 39)
    assert {t.type for t in short.data[:4]} == {"bar"}
