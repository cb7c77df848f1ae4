"""Display helpers shared by the pages: figures with PNG/SVG + CSV/JSON export, clicks that move the
query, and the real source of the function that ran (inspect.getsource, never pasted).
"""

import inspect
import time

import streamlit as st

from dsa_core import viz
from dsa_core.fast import twins
from dsa_core.viz.pool import cell_of
from lessons import budget, cache, profile

profile.install()  # only with DSA_APP_PROFILE=path: per-rerun timings for benchmarks/class_bench.py


def show_figure(fig, name, key=None, alt=None, **kwargs):
    """st.plotly_chart with the modebar download (PNG or SVG) plus CSV and JSON of the figure's numbers."""
    fmt = st.session_state.get("fig_fmt", "png")
    t = time.perf_counter()
    event = st.plotly_chart(fig, config=viz.export_config(f"dsa-{name}", fmt), key=key, **kwargs)
    profile.figure_drawn(time.perf_counter() - t)
    row = st.container(horizontal=True)
    row.download_button(
        "CSV",
        lambda: viz.figure_csv(fig),
        f"dsa-{name}.csv",
        "text/csv",
        key=f"csv-{key or name}",
        on_click="ignore",
        icon=":material/download:",
    )
    row.download_button(
        "JSON",
        lambda: viz.figure_json(fig),
        f"dsa-{name}.json",
        "application/json",
        key=f"json-{key or name}",
        on_click="ignore",
        icon=":material/download:",
    )
    return event


def _figure_bytes(fig):
    """Bytes a cached figure holds: its JSON (images, labels) and the exact numbers kept for export."""
    return len(fig.to_json()) + budget.nbytes(getattr(fig, "_cells", {}))


@cache.budgeted(size=_figure_bytes)
def _maps_figure(text, layer, max_tokens, k, head, how, zoom, row):
    m = cache.maps(text, layer, max_tokens, k, head, how, zoom)
    tokens = cache.trace(text, layer, max_tokens)[1].tokens
    return viz.aligned_maps(m, tokens, query=row, pick_rows=("scores", "dense"), cells="auto")


def maps_figure(text, layer, max_tokens, k, head, how, zoom, query):
    """Explore's six aligned maps (as images, rows clickable), built once per view and query row (a
    pooled block, or a zoom window's row) in the byte budget all sessions share: moving the query
    inside a block, or a second student on the same view, reuses the figure."""
    rows = cache.maps(text, layer, max_tokens, k, head, how, zoom)["scores"]["rows"]
    row = cell_of(query, rows)
    return _maps_figure(text, layer, max_tokens, k, head, how, zoom, query if row is None else int(row))


def query_from_click(key):
    """on_select callback for a plotly chart: the clicked point's position (token grid: customdata;
    maps: the row, i.e. the query; pooled maps: the first query of the block) becomes the query."""

    def pick():
        points = st.session_state[key].selection.points
        if points:
            p = points[0]
            pos = p.get("customdata", p.get("y"))
            if isinstance(pos, (list, tuple)):
                pos = pos[0]
            if pos is not None:
                st.session_state.query = int(round(float(pos)))

    return pick


def show_source(fn, label=None, ran=None):
    """The real source of the dsa_core function that produced a figure (inspect.getsource, never pasted).
    ran: the function that really ran (the reference itself or a tested twin, as returned by the analysis
    code that ran it): the caption names it and the test that proves it equal (dsa_core/fast/twins.py)."""
    name = f"{fn.__module__}.{fn.__qualname__}"
    with st.expander(label or f"Source: `{name}`"):
        if ran is not None:
            st.caption(twins.ran_note(fn, ran))
        st.code(inspect.getsource(fn), language="python")
