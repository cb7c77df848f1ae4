"""Figures of the DSA family: each member's picks for one query, the layer × layer overlap heatmap,
and an overlap matrix between members. Arrays in, go.Figure out (no torch here, as in dsa_core/viz);
the numbers come from the rest of the family folder."""

import numpy as np
import plotly.graph_objects as go

from dsa_core.viz import style

MAX_COLUMNS = 512  # wider pick rows are pooled into blocks (share of the block kept)
KEPT_SCALE = [[0.0, "#dfe7ef"], [1.0, style.BLUE]]


def pick_rows(picks, query, tokens=None, max_columns=MAX_COLUMNS):
    """One row per selection ({name: [K] positions of this query, -1 = empty}), one column per visible key
    0 … query: 1 where kept. Above max_columns keys, columns are blocks and show the share kept."""
    n_keys = query + 1
    names = list(picks)
    z = np.zeros((len(names), n_keys), dtype=np.float32)
    for r, name in enumerate(names):
        idx = np.asarray(picks[name]).reshape(-1)
        idx = idx[(idx >= 0) & (idx <= query)]
        z[r, idx] = 1.0
    width, note = 1, "1 = kept, 0 = visible but not kept"
    if n_keys > max_columns:
        width = -(-n_keys // max_columns)
        pad = np.zeros((len(names), width * max_columns - n_keys), dtype=np.float32)
        z = np.concatenate([z, pad], 1).reshape(len(names), max_columns, width).sum(-1)
        counts = np.minimum(width, n_keys - np.arange(max_columns) * width).clip(min=1)
        z = z / counts
        note = f"share of each block of {width} keys kept"
    x = np.arange(z.shape[1], dtype=np.float32) * width
    hover = "%{y}<br>key %{x}: %{z:.2f}<extra></extra>"
    if tokens is not None and width == 1:
        text = [[style.display_token(tokens[int(p)]) for p in range(n_keys)] for _ in names]
        trace = go.Heatmap(
            z=z,
            x=x,
            y=names,
            text=text,
            colorscale=KEPT_SCALE,
            zmin=0,
            zmax=1,
            hovertemplate="%{y}<br>key %{x} %{text}: %{z:.0f}<extra></extra>",
            colorbar={"title": {"text": "kept"}, "tickvals": [0, 1]},
        )
    else:
        trace = go.Heatmap(
            z=z,
            x=x,
            y=names,
            colorscale=KEPT_SCALE,
            zmin=0,
            zmax=1,
            hovertemplate=hover,
            colorbar={"title": {"text": "kept"}},
        )
    fig = style.figure(
        [trace],
        f"Which keys each member keeps for query {query} ({note})",
        height=120 + 48 * len(names),
        xaxis={"title": {"text": "key position"}},
        yaxis={"autorange": "reversed"},
    )
    return fig


def overlap_heatmap(overlap, computing=None, title=None, labels=None):
    """Layer × layer Jaccard overlap of top-k sets (fixed scale 0 to 1); computing layers marked."""
    z = np.asarray(overlap, dtype=np.float32)
    L = z.shape[0]
    axis = list(labels) if labels is not None else np.arange(L, dtype=np.float32)
    lay = {
        "xaxis": {"title": {"text": "layer" if labels is None else ""}, "constrain": "domain"},
        "yaxis": {
            "title": {"text": "layer" if labels is None else ""},
            "autorange": "reversed",
            "scaleanchor": "x",
        },
    }
    data = [
        go.Heatmap(
            z=z,
            x=axis,
            y=axis,
            zmin=0,
            zmax=1,
            colorscale=style.ATTENTION_SCALE,
            colorbar={"title": {"text": "Jaccard overlap"}},
            hovertemplate="%{y} vs %{x}: %{z:.2f}<extra></extra>",
            text=np.round(z, 2) if L <= 8 else None,
            texttemplate="%{text}" if L <= 8 else None,
        )
    ]
    if computing:
        c = np.asarray(sorted(computing), dtype=np.float32)
        data.append(
            go.Scatter(
                x=c,
                y=c,
                mode="markers",
                name="computes its own top-k",
                marker={"symbol": "square-open", "size": 12, "color": style.VERMILLION, "line": {"width": 3}},
            )
        )
    return style.figure(data, title or "Top-k overlap between layers (|A ∩ B| / |A ∪ B|)", height=560, **lay)


def member_bars(values, ideal=None, title="Recall: share of dense attention inside each member's picks"):
    """One horizontal bar per member (0 to 1), the ideal top-k as a dotted line."""
    names = list(values)
    v = np.asarray([values[n] for n in names], dtype=np.float32)
    fig = style.figure(
        [
            go.Bar(
                x=v,
                y=names,
                orientation="h",
                text=[f"{x:.3f}" for x in v],
                textposition="auto",
                marker={"color": [style.PALETTE[i % 8] for i in range(len(names))]},
                hovertemplate="%{y}: %{x:.4f}<extra></extra>",
            )
        ],
        title,
        height=120 + 50 * len(names),
        xaxis={"range": [0, 1.02], "title": {"text": "attention mass kept (0 to 1)"}},
        yaxis={"autorange": "reversed"},
    )
    if ideal is not None:
        fig.add_vline(
            x=float(ideal),
            line={"dash": "dot", "color": style.GREEN},
            annotation_text=f"ideal top-k {ideal:.3f}",
            annotation_position="top",
        )
    return fig


def frontier(cost, value, higher_is_better):
    """Indices of the points on the Pareto frontier, cheapest first: no other point costs less (or the
    same) and is better (or as good). cost, value: sequences of floats."""
    sign = 1.0 if higher_is_better else -1.0
    order = sorted(range(len(cost)), key=lambda i: (cost[i], -sign * value[i]))
    out, best = [], -np.inf
    for i in order:
        if sign * value[i] > best:
            out.append(i)
            best = sign * value[i]
    return out


SYMBOLS = ["circle", "square", "diamond", "triangle-up", "cross", "x", "star", "pentagon", "hexagon"]


def pareto(points, title="The family at equal tokens read: quality against the indexer's cost"):
    """Two panels against the indexer's FLOPs per token (whole model, the cost model): perplexity
    (lower is better) and recall ÷ ideal top-k (higher is better); one marker per member (named in the
    legend), each panel's Pareto frontier as a dotted line. points: [{"name", "flops" (per token),
    "perplexity", "recall"}], every member reading the same k tokens per query."""
    lay, _ = style.grid(
        1, 2, titles=("perplexity (lower is better)", "recall ÷ ideal top-k (higher is better)"), share="x"
    )
    x = [p["flops"] / 1e6 for p in points]
    data = []
    for panel, (key, better_high) in enumerate((("perplexity", False), ("recall", True))):
        y = [p[key] for p in points]
        axes = {"xaxis": "x" if panel == 0 else "x2", "yaxis": "y" if panel == 0 else "y2"}
        front = frontier(x, y, better_high)
        data.append(
            go.Scatter(
                x=[x[i] for i in front],
                y=[y[i] for i in front],
                mode="lines",
                line={"dash": "dot", "color": style.GREY},
                name="Pareto frontier",
                legendgroup="frontier",
                showlegend=panel == 0,
                hoverinfo="skip",
                **axes,
            )
        )
        for i, p in enumerate(points):
            data.append(
                go.Scatter(
                    x=[x[i]],
                    y=[y[i]],
                    mode="markers",
                    marker={"size": 11, "color": style.PALETTE[i % 8], "symbol": SYMBOLS[i % len(SYMBOLS)]},
                    name=p["name"],
                    legendgroup=p["name"],
                    showlegend=panel == 0,
                    hovertemplate=p["name"]
                    + "<br>%{x:.2f} MFLOP/token<br>"
                    + key
                    + " %{y:.3f}<extra></extra>",
                    **axes,
                )
            )
    lay["xaxis"]["title"] = {"text": "indexer MFLOP per token"}
    lay["xaxis2"]["title"] = {"text": "indexer MFLOP per token"}
    lay["legend"] = {"orientation": "h", "y": -0.22, "x": 0}
    return style.figure(data, title, height=640, **lay)


def pareto_svg(points, width=980, height=560):
    """The same two panels as `pareto`, as a static SVG string for pages that cannot run Plotly (docs/):
    perplexity and recall ÷ ideal against indexer MFLOP per token, the frontier dotted, each member a
    numbered point and a line of the key below."""
    pad, gap, plot_h = 56, 60, 300
    w = (width - 2 * pad - gap) / 2
    x = [p["flops"] / 1e6 for p in points]
    x0, x1 = 0.0, max(x) * 1.08
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="11"><rect width="100%" height="100%" fill="white"/>'
    ]
    panels = (
        ("perplexity", False, "perplexity (lower is better)"),
        ("recall", True, "recall ÷ ideal (higher is better)"),
    )
    for panel, (key, better_high, title) in enumerate(panels):
        y = [p[key] for p in points]
        lo, hi = min(y), max(y)
        lo, hi = lo - 0.06 * (hi - lo or 1), hi + 0.06 * (hi - lo or 1)
        left = pad + panel * (w + gap)

        def px(v, left=left):
            return left + (v - x0) / (x1 - x0) * w

        def py(v, lo=lo, hi=hi):
            return pad + (1 - (v - lo) / (hi - lo)) * plot_h

        out.append(f'<rect x="{left}" y="{pad}" width="{w}" height="{plot_h}" fill="none" stroke="#999"/>')
        out.append(
            f'<text x="{left + w / 2}" y="{pad - 12}" text-anchor="middle" font-size="13">{title}</text>'
        )
        out.append(
            f'<text x="{left + w / 2}" y="{pad + plot_h + 32}" text-anchor="middle">'
            "indexer MFLOP per token</text>"
        )
        for t in range(5):
            xv, yv = x0 + t * (x1 - x0) / 4, lo + t * (hi - lo) / 4
            out.append(f'<text x="{px(xv)}" y="{pad + plot_h + 14}" text-anchor="middle">{xv:.0f}</text>')
            out.append(f'<text x="{left - 6}" y="{py(yv) + 4}" text-anchor="end">{yv:.3g}</text>')
        front = frontier(x, y, better_high)
        path = " ".join(f"{px(x[i]):.1f},{py(y[i]):.1f}" for i in front)
        out.append(f'<polyline points="{path}" fill="none" stroke="{style.GREY}" stroke-dasharray="3,3"/>')
        for i in range(len(points)):
            color = style.PALETTE[i % 8]
            out.append(f'<circle cx="{px(x[i]):.1f}" cy="{py(y[i]):.1f}" r="5" fill="{color}"/>')
            out.append(f'<text x="{px(x[i]) + 6:.1f}" y="{py(y[i]) - 5:.1f}" fill="#333">{i + 1}</text>')
    for i, p in enumerate(points):  # the key, two columns
        kx, ky = pad + (i % 2) * (width / 2), pad + plot_h + 60 + (i // 2) * 16
        out.append(f'<circle cx="{kx}" cy="{ky - 4}" r="5" fill="{style.PALETTE[i % 8]}"/>')
        out.append(f'<text x="{kx + 10}" y="{ky}">{i + 1}. {p["name"]}</text>')
    return "\n".join(out + ["</svg>"]) + "\n"
