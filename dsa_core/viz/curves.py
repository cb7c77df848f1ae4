"""Line charts: cost against context length (predicted and measured), measured timings, training
curves and recall vs k (bar charts are in bars.py). Each series carries a name in the legend and a
distinct dash/marker, so the chart reads without colour.
"""

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dsa_core.viz import style

_DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
_MARKERS = ["circle", "square", "diamond", "triangle-up", "x", "star"]


def _base(name):
    """A series' name without its parenthesised note: 'decode/dsa (fit, R² 0.99)' -> 'decode/dsa'."""
    return name.split(" (")[0]


def line_chart(
    x,
    series,
    x_title,
    y_title,
    title=None,
    log_x=False,
    log_y=False,
    markers=None,
    y_range=None,
    height=420,
    vline=None,
):
    """Several named series over one x. series: {name: [len(x)] array}; markers: {name: (x, y)} drawn as
    points only (e.g. measured timings or a paper's read-off values). vline: (x, label) marks one x."""
    x = style.f32(x)
    fig = go.Figure()
    colours = dict(zip(series, style.line_colours(list(series))))
    for i, (name, y) in enumerate(series.items()):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=style.f32(y),
                name=name,
                mode="lines",
                line={"color": colours[name], "dash": _DASHES[i % 6], "width": 3},
            )
        )
    by_base = {_base(n): c for n, c in colours.items()}  # "dense (fit)" and "dense (read off)" pair up
    for i, (name, (mx, my)) in enumerate((markers or {}).items()):
        fig.add_trace(
            go.Scatter(
                x=style.f32(mx),
                y=style.f32(my),
                name=name,
                mode="markers",
                marker={
                    "symbol": _MARKERS[i % 6],
                    "size": 10,
                    "color": by_base.get(_base(name), style.series_colour(name, i + 3)),
                    "line": {"width": 1, "color": "#333"},
                },
            )
        )
    ys = [style.f32(y) for y in series.values()] + [style.f32(my) for _, my in (markers or {}).values()]
    xs = [x] + [style.f32(mx) for mx, _ in (markers or {}).values()]
    fig.update_xaxes(title_text=x_title, **(style.log_axis(np.concatenate(xs)) if log_x else {}))
    fig.update_yaxes(
        title_text=y_title, range=y_range, **(style.log_axis(np.concatenate(ys)) if log_y else {})
    )
    if vline is not None:
        x0 = float(vline[0])
        fig.add_vline(
            x=x0, line={"dash": "dot", "color": style.GREY}
        )  # a shape: data units, also on log axes
        fig.add_annotation(  # an annotation on a log axis is placed by log10(x), not x
            x=float(np.log10(x0)) if log_x else x0,
            xref="x",
            y=1,
            yref="y domain",
            yanchor="bottom",
            text=vline[1],
            showarrow=False,
        )
    return style.base_layout(fig, title, height)


def cost_curves(
    lengths,
    series,
    measured=None,
    y_title="multiply-adds per token",
    title=None,
    crossover=None,
    log=True,
    height=440,
):
    """Predicted cost against context length (log-log by default), measured points on top.
    crossover: the length where DSA becomes cheaper, marked with a labelled vertical line."""
    vline = (crossover, f"crossover ≈ {crossover:,.0f}") if crossover else None
    return line_chart(
        lengths,
        series,
        "context length (tokens)",
        y_title,
        title,
        log_x=log,
        log_y=log,
        markers=measured,
        height=height,
        vline=vline,
    )


def recall_vs_k(ks, series, k_now=None, height=380):
    """Attention-mass recall against the budget k, one line per method (indexer, ideal, window, random)."""
    vline = (k_now, f"k = {k_now}") if k_now else None
    return line_chart(
        ks,
        series,
        "budget k (tokens kept per query)",
        "attention mass kept (0 to 1)",
        "Recall against k",
        log_x=True,
        y_range=[0, 1.02],
        height=height,
        vline=vline,
    )


def training_curves(steps, loss, metrics=None, height=420):
    """Loss (left panel, log scale) and 0..1 metrics such as recall and overlap (right panel) per step."""
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=["KL loss (lower is better)", "recall / overlap (higher is better)"]
    )
    steps = style.f32(steps)
    fig.add_trace(
        go.Scatter(
            x=steps,
            y=style.f32(loss),
            name="loss",
            mode="lines+markers",
            line={"color": style.ORANGE, "width": 3},
            marker={"size": 5},
        ),
        row=1,
        col=1,
    )
    colours = style.line_colours(list(metrics or {}), taken=[style.ORANGE])  # the loss line is orange
    for i, (name, y) in enumerate((metrics or {}).items()):
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=style.f32(y),
                name=name,
                mode="lines+markers",
                line={"color": colours[i], "dash": _DASHES[(i + 1) % 6], "width": 3},
                marker={"symbol": _MARKERS[(i + 1) % 6], "size": 6},
            ),
            row=1,
            col=2,
        )
    fig.update_yaxes(style.log_axis(loss), row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_xaxes(title_text="training step")
    return style.base_layout(fig, None, height)


def timing_chart(series, title=None, height=440):
    """Measured milliseconds (markers) and the cost model's prediction (dashed) against length, log-log.
    series: {label: {"T": [...], "ms": [... or None], "predicted_ms": [... or None]}} (None = not run)."""
    fig = go.Figure()
    for i, (name, s) in enumerate(series.items()):
        c = style.series_colour(name, i)
        for key, mode, extra in (
            (
                "ms",
                "markers+lines",
                {"marker": {"symbol": _MARKERS[i % 6], "size": 9}, "line": {"color": c, "width": 1}},
            ),
            ("predicted_ms", "lines", {"line": {"color": c, "dash": "dash", "width": 2}}),
        ):
            pts = [(t, m) for t, m in zip(s["T"], s.get(key) or []) if m is not None]
            if pts:
                t, m = zip(*pts)
                fig.add_trace(
                    go.Scatter(
                        x=style.f32(t),
                        y=style.f32(m),
                        mode=mode,
                        legendgroup=name,
                        name=name if key == "ms" else f"{name} (predicted)",
                        **extra,
                    )
                )
    ts = [t for s in series.values() for t in s["T"]]
    ms = [m for s in series.values() for key in ("ms", "predicted_ms") for m in s.get(key) or [] if m]
    fig.update_xaxes(title_text="context length T (tokens)", **style.log_axis(ts))
    fig.update_yaxes(title_text="milliseconds (log)", **style.log_axis(ms))
    return style.base_layout(fig, title, height)
