"""Bar charts: one value per layer, and one labelled bar per named value. Each bar carries its number or
a pattern, so the chart reads without colour.
"""

import numpy as np
import plotly.graph_objects as go

from dsa_core.viz import style


def per_layer(values, title, y_title, highlight=None, y_range=None, height=340):
    """One bar per layer (e.g. recall or KL); `highlight` is the layer shown elsewhere on the page."""
    v = style.f32(values)
    colours = [style.ROLE["query"] if i == highlight else style.ROLE["indexer"] for i in range(len(v))]
    patterns = ["x" if i == highlight else "" for i in range(len(v))]
    fig = go.Figure(
        go.Bar(
            x=np.arange(len(v), dtype=np.float32),
            y=v,
            marker={"color": colours, "pattern": {"shape": patterns}},
            hovertemplate="layer %{x}: %{y:.4f}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="layer")
    fig.update_yaxes(title_text=y_title, range=y_range)
    return style.base_layout(fig, title, height)


def bars(values, x_title, title=None, log=False, height=320, fmt="{:,.3g}"):
    """One labelled horizontal bar per named value (e.g. multiply-adds of three ways to compute)."""
    names = list(values)
    v = style.f32([values[n] for n in names])
    fig = go.Figure(
        go.Bar(
            x=v,
            y=names,
            orientation="h",
            text=[fmt.format(float(x)) for x in v],
            textposition="auto",
            marker={"color": [style.series_colour(n, i) for i, n in enumerate(names)]},
            hovertemplate="%{y}: %{x:,.4g}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text=x_title, type="log" if log else "linear")
    fig.update_yaxes(autorange="reversed", type="category")
    return style.base_layout(fig, title, height)
