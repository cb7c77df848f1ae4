"""Recall by query position: an indexer trained on short windows next to one trained at full length.

Left: the indexer's recall divided by the ideal top-k's (1 = as good as the best k keys by dense
attention), per bucket of query positions. Right: in how many layers the indexer keeps more dense
attention than the window + sinks baseline of the same budget. The shaded band marks positions past
the short training window: the short-trained indexer never saw a query there.
Numbers from dsa_core.train.positions.position_series (evaluate.py's "by_position").
"""

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dsa_core.viz import style

_DASHES = ["dash", "solid", "dot", "dashdot"]
_MARKERS = ["circle", "square", "diamond", "triangle-up"]


def recall_by_position(buckets, ratio, above=None, n_layers=30, unseen_from=None, title=None, height=440):
    """buckets: labels ["0-1K", ...]; ratio: {indexer name: [len(buckets)] indexer/ideal recall};
    above: {same names: [len(buckets)] layers where the indexer beats the window} (right panel, or
    none); unseen_from: the first bucket label past the short training window (shaded)."""
    cols = 2 if above else 1
    fig = make_subplots(
        rows=1,
        cols=cols,
        horizontal_spacing=0.12,
        subplot_titles=(
            "indexer ÷ ideal top-k recall",
            *([f"layers where the indexer beats the window (of {n_layers})"] if above else []),
        ),
    )
    x = list(buckets)
    for i, (name, r) in enumerate(ratio.items()):
        colour = style.PALETTE[(i + 1) % len(style.PALETTE)]
        line = {"color": colour, "dash": _DASHES[i % 4], "width": 3}
        marker = {"symbol": _MARKERS[i % 4], "size": 11}
        fig.add_trace(
            go.Scatter(x=x, y=style.f32(r), name=name, mode="lines+markers", line=line, marker=marker),
            row=1,
            col=1,
        )
        if above:
            fig.add_trace(
                go.Bar(
                    x=x,
                    y=np.asarray(above[name], dtype=np.int32),
                    name=name,
                    marker={"color": colour, "pattern": {"shape": ["", "/", "x", "."][i % 4]}},
                    showlegend=False,
                ),
                row=1,
                col=2,
            )
    if unseen_from in x:
        for col in range(1, cols + 1):
            fig.add_vrect(
                x0=x.index(unseen_from) - 0.5,
                x1=len(x) - 0.5,
                fillcolor=style.GREY,
                opacity=0.12,
                line_width=0,
                annotation_text="past the short training window" if col == 1 else None,
                annotation_position="top left",
                row=1,
                col=col,
            )
    fig.update_xaxes(title_text="query position (tokens)", type="category")
    fig.update_yaxes(title_text="recall ratio", row=1, col=1)
    if above:
        fig.update_yaxes(title_text="layers", range=[0, n_layers], row=1, col=2)
    fig.update_layout(barmode="group")
    return style.base_layout(fig, title, height)
