"""One map panel's parts: the cells it draws (a full-resolution zoom window or block pooling), its
'index:token' tick labels, and the invisible row picker that makes its rows clickable. heatmaps.py
lays the panels out side by side.
"""

import numpy as np
import plotly.graph_objects as go

from dsa_core.viz import style
from dsa_core.viz.pool import future_to_nan, pool_matrix, window

GRID_SIDE = 192  # per panel in the 6-panel grid: 6 x 192^2 cells stay below one 512 x 512 map


def prepare_map(z, max_side=GRID_SIDE, how="max", zoom=None):
    """Make one [T,T] map drawable: a full-resolution zoom window (zoom=(lo, size)) or block pooling.
    Returns {"z", "rows", "cols", "note"}; pass it to aligned_maps in place of the array (e.g. to cache
    the pooling of a large map between reruns)."""
    if zoom is not None:
        z, lo = window(z, zoom[0], zoom[1])
        pos = np.arange(lo, lo + z.shape[0], dtype=np.float32)
        return {
            "z": future_to_nan(z),
            "rows": pos,
            "cols": pos,
            "note": f"zoom: positions {lo}–{lo + z.shape[0] - 1} at full resolution",
        }
    pooled, re, ce = pool_matrix(z, max_side, how, causal=True)
    note = "" if len(re) == len(z) else f"{how}-pooled blocks of {int(re[1]) if len(re) > 1 else 1} tokens"
    return {"z": pooled, "rows": re.astype(np.float32), "cols": ce.astype(np.float32), "note": note}


def tick_labels(tokens, pos):
    """Tick labels 'i:token' when at most 40 positions are shown, else Plotly's numeric ticks."""
    if tokens is None or len(pos) > 40 or len(pos) != len(set(pos.tolist())):
        return None
    return {
        "tickmode": "array",
        "tickvals": pos.tolist(),
        "tickfont": {"size": 11},
        "ticktext": [style.token_labels([tokens[int(p)]], int(p))[0] for p in pos],
    }


def row_picker(rows, cols, n, tokens=None, columns=16):
    """Invisible click targets over a map: one marker per row at `columns` evenly spaced key positions
    (or one in the middle), so a click in a row selects a point whose y is that row (query) position.
    Plotly can't select heatmap cells, so the app's on_select needs these; their hover label names the
    query."""
    at = np.linspace(0, len(cols) - 1, min(columns, len(cols))) if columns > 1 else [(len(cols) - 1) / 2]
    xs = cols[np.unique(np.round(at).astype(int))]  # one column: the middle one
    gx, gy = np.meshgrid(xs, rows)
    label = [style.token_labels([tokens[int(r)]], int(r))[0] for r in rows] if tokens is not None else None
    text = None if label is None else np.repeat(np.asarray(label, object)[:, None], len(xs), 1).ravel()
    return go.Scatter(
        x=style.f32(gx.ravel()),
        y=style.f32(gy.ravel()),
        mode="markers",
        xaxis=f"x{n}",
        yaxis=f"y{n}",
        marker={"opacity": 0, "size": 10},
        showlegend=False,
        name="row picker",
        text=text,
        meta={"ui": "row picker"},
        hovertemplate=("query %{text}" if text is not None else "query %{y}")
        + "<br>click: make it the query<extra></extra>",
    )
