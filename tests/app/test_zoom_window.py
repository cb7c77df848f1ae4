"""Zoom with the query outside the window: the maps keep the window's size (the axis is fixed to the cells
drawn, so the query line cannot stretch it into a thin strip) and the figure says where the query is."""

import numpy as np

from dsa_core import viz
from dsa_core.viz import pool

T, SIDE = 1000, 192


def _maps(zoom):
    z = np.tril(np.random.default_rng(0).random((T, T)).astype(np.float32))
    return {kind: viz.prepare_map(z, SIDE, "max", zoom) for kind in ("scores", "dense")}


def _y_ranges(fig):
    lay = fig.layout.to_plotly_json()
    return [lay[k]["range"] for k in lay if k.startswith("yaxis")]


def test_query_outside_the_zoom_window_leaves_the_window_full_size():
    fig = viz.aligned_maps(_maps((700, SIDE)), query=100)  # window 700..891, query far above it
    assert _y_ranges(fig) == [[891.5, 699.5]] * 2  # reversed, exactly the window's rows
    assert not fig.layout.shapes  # no query line outside the window
    assert "query 100 is outside this window" in fig.layout.annotations[-1].text


def test_query_inside_the_window_is_drawn_on_its_row():
    fig = viz.aligned_maps(_maps((700, SIDE)), query=750)
    assert [s.y0 for s in fig.layout.shapes] == [750, 750]
    assert _y_ranges(fig) == [[891.5, 699.5]] * 2


def test_pooled_maps_draw_the_query_on_its_block_and_keep_their_range():
    fig = viz.aligned_maps(_maps(None), query=T - 1)
    starts = pool.block_edges(T, SIDE)
    b = int(starts[1])
    assert [s.y0 for s in fig.layout.shapes] == [float(starts[-1])] * 2  # the last block
    assert _y_ranges(fig) == [[starts[-1] + b / 2, -b / 2]] * 2


def test_cell_of_and_span():
    assert pool.cell_of(5, np.arange(10, 20)) is None and pool.cell_of(12, np.arange(10, 20)) == 12
    assert pool.cell_of(999, np.array([0, 6, 12])) is None and pool.cell_of(17, np.array([0, 6, 12])) == 12
    assert pool.span(np.arange(10, 20)) == (9.5, 19.5)
