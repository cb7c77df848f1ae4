"""Per-query views that work at any text length: the index-score vs dense-attention strip of one query,
and the clickable token grid where the query is picked. Statistics of the picks are in picks.py.
"""

import numpy as np
import plotly.graph_objects as go

from dsa_core.viz import style

STRIP_BARS = 256  # above this many keys, they are drawn as stems: one SVG path a kind, not one per bar


def _bars(x, y, labels, name, colour, pattern, axis, width, numbers):
    """One bar per key (patterned when kept, so the strip reads without colour)."""
    return [
        go.Bar(
            x=x,
            y=y,
            name=name,
            marker={"color": colour, "pattern": {"shape": pattern}},
            customdata=labels,
            legendgroup=name,
            showlegend=axis == "",
            xaxis=f"x{axis}",
            yaxis=f"y{axis}",
            hovertemplate="%{customdata}<br>%{y:.4f}<extra>" + name + "</extra>",
        )
    ]


def _stems(x, y, labels, name, colour, pattern, axis, width, numbers):
    """Many keys: a vertical line per key, all in one unbroken path (0 -> value -> 0, key after key: a
    browser draws thousands of bars, or a path broken by gaps, slowly; at this many keys a bar is under
    a pixel wide anyway), kept keys thicker. Hover gives each key's label and value; CSV/JSON export
    reads the keys' values, kept in `numbers` (export.py)."""
    ref = f"{name} {axis or 1}"
    numbers[ref] = {"type": "bar", "x": x.astype(np.float32), "y": y.astype(np.float32)}
    sx = np.repeat(x.astype(np.float32), 3)
    sy = np.stack([np.zeros_like(y), y, np.zeros_like(y)], 1).ravel().astype(np.float32)
    return [
        go.Scatter(
            x=sx,
            y=sy,
            mode="lines",
            name=name,
            line={"color": colour, "width": width},
            legendgroup=name,
            legendrank=1 if width > 1 else 2,  # kept first in the legend, as with bars
            showlegend=axis == "",
            xaxis=f"x{axis}",
            yaxis=f"y{axis}",
            text=np.stack([np.full(len(x), "", object), labels, np.full(len(x), "", object)], 1).ravel(),
            customdata=np.repeat(y.astype(np.float32), 3),
            hovertemplate="%{text}<br>%{customdata:.4f}<extra>" + name + "</extra>",
            meta={"numbers": ref},
        )
    ]


def query_strip(scores_row, dense_row, selected, query, tokens=None, dense_top=None, height=460):
    """Index scores (top) against true dense attention (bottom) over keys 0..query of one query.

    scores_row, dense_row: [T] (entries after `query` are ignored); selected: positions kept by top-k
    (-1 ignored); dense_top: positions of dense attention's own top-k (the ideal set), marked with a ◆.
    Kept keys are drawn solid blue with a hatch; dropped keys light grey, so the strip reads without colour.
    Above STRIP_BARS keys they are drawn as stems (kept ones thicker, on top), which a browser draws
    at once.
    """
    n = int(query) + 1
    s = style.f32(scores_row)[:n]
    p = style.f32(dense_row)[:n]
    s = np.where(np.isfinite(s), s, np.nan).astype(np.float32)
    pos = np.arange(n, dtype=np.float32)
    kept = np.zeros(n, bool)
    sel = np.asarray(selected, dtype=np.int64).ravel()
    kept[sel[(sel >= 0) & (sel < n)]] = True
    labels = np.array(
        style.token_labels(tokens[:n]) if tokens is not None else [str(i) for i in range(n)], dtype=object
    )
    lay, _ = style.grid(  # keys line up (x shared); the two y-ranges are different quantities
        2,
        1,
        vgap=0.16,
        titles=["index score I[t, s] (unnormalised)", "dense attention p[t, s] (probability, 0 to 1)"],
        share="x",
    )
    data, numbers = [], {}
    for axis, y in (("", s), ("2", p)):
        traces = _bars if n <= STRIP_BARS else _stems
        for is_kept, name, colour, pattern in (  # stems: the kept ones drawn last, on top
            ((True, "kept by top-k", style.ROLE["indexer"], "/"), (False, "dropped", "#b9c2cc", ""))[
                :: 1 if traces is _bars else -1
            ]
        ):
            m = kept == is_kept
            data += traces(pos[m], y[m], labels[m], name, colour, pattern, axis, 2 if is_kept else 1, numbers)
    if dense_top is not None:
        top = np.asarray(dense_top, dtype=np.int64).ravel()
        top = top[(top >= 0) & (top < n)]
        missed = top[~kept[top]]
        data.append(
            go.Scatter(
                x=top.astype(np.float32),
                y=p[top],
                mode="markers",
                name="ideal top-k (◆)",
                marker={"symbol": "diamond", "size": 9, "color": style.ROLE["oracle"]},
                xaxis="x2",
                yaxis="y2",
                hovertemplate="ideal top-k: key %{x}<extra></extra>",
            )
        )
        if len(missed):
            data.append(
                go.Scatter(
                    x=missed.astype(np.float32),
                    y=p[missed],
                    mode="markers",
                    name="missed by indexer (✖)",
                    xaxis="x2",
                    yaxis="y2",
                    marker={"symbol": "x", "size": 11, "color": style.ROLE["missed"]},
                    hovertemplate="missed: key %{x}<extra></extra>",
                )
            )
    pmax = float(p.max()) if p.size else 0.0
    lay["yaxis2"].update(range=[0, 1.0 if pmax > 0.5 else max(0.05, pmax * 1.1)])
    lay["xaxis2"].update(title_text=f"key position (query = {query})", range=[-0.5, n - 0.5])
    lay["xaxis"].update(range=[-0.5, n - 0.5], showticklabels=False)
    fig = style.figure(
        data,
        None,
        height,
        barmode="overlay",
        bargap=0.05,
        margin={"l": 60, "r": 30, "t": 90, "b": 50},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.1, "x": 0},
        meta={"query": int(query), "kept": int(kept.sum())},
        **lay,
    )
    if numbers:  # the stems' values, for figure_csv / figure_json
        fig._cells = numbers
    return fig


def token_grid(tokens, query=None, selected=None, per_row=16, start=0, height=None):
    """The text as a clickable grid of tokens (scatter points with text): click one to pick the query.

    Shows tokens[start:], wrapped `per_row` to a line; the query gets a ring, kept keys a square.
    The point's `customdata` is its position in the whole text.
    """
    toks = list(tokens)[start:]
    n = len(toks)
    pos = np.arange(start, start + n)
    xs = (np.arange(n) % per_row).astype(np.float32)
    ys = (np.arange(n) // per_row).astype(np.float32)
    kept = np.zeros(n, bool)
    if selected is not None:
        sel = np.asarray(selected, dtype=np.int64).ravel() - start
        kept[sel[(sel >= 0) & (sel < n)]] = True
    is_q = pos == (query if query is not None else -1)
    colour = np.where(is_q, style.ROLE["query"], np.where(kept, style.ROLE["indexer"], "#b9c2cc"))
    symbol = np.where(is_q, "circle-open", np.where(kept, "square", "circle"))
    text = [style.display_token(t).strip() or "␣" for t in toks]
    rows = int(ys.max()) + 1 if n else 1
    return style.figure(
        [
            go.Scatter(
                x=xs,
                y=ys,
                mode="markers+text",
                text=text,
                textposition="middle center",
                textfont={"size": 13},
                customdata=pos,
                name="tokens",
                marker={"size": 30, "color": colour, "symbol": symbol, "opacity": 0.35, "line": {"width": 2}},
                hovertemplate="position %{customdata}: %{text}<extra>click to make this the query</extra>",
            )
        ],
        None,
        height or 40 * rows + 50,
        clickmode="event+select",
        dragmode=False,
        showlegend=False,
        xaxis={"visible": False, "range": [-0.7, per_row - 0.3]},
        yaxis={"visible": False, "autorange": "reversed"},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
