"""Figures of decoding, one token at a time: what a new token's query read (its picks ranked by index
score), the two continuations side by side, the bytes and seconds dense and DSA spend as tokens come,
and a decode step's bytes and time against context length.

Arrays in, go.Figure (or an HTML string) out, like every file in dsa_core/viz; the numbers come from
dsa_core.host.generate (Step records, step_bytes, step_seconds).
"""

import html

import numpy as np
import plotly.graph_objects as go

from dsa_core.viz import style

MB = 1e6


def pick_ranking(tokens, picks, scores, title=None, height=None, top=32):
    """The positions one query read, best first (top of the chart), each bar its index score.

    tokens: display strings of the text the query saw; picks [K] positions (-1 = empty); scores [K]
    their index scores (NaN: read without a score of its own, e.g. a forced block). Shows the `top` best.
    """
    picks, scores = np.asarray(picks).ravel(), style.f32(scores).ravel()
    keep = picks >= 0
    picks, scores = picks[keep][:top], scores[keep][:top]
    labels = [f"{int(p)} · {style.display_token(tokens[int(p)])}" for p in picks]
    forced = ~np.isfinite(scores)
    bars = go.Bar(
        x=np.where(forced, 0, scores),
        y=labels,
        orientation="h",
        marker={"color": style.ROLE["dsa"], "pattern": {"shape": np.where(forced, "/", "").tolist()}},
        text=["forced (no score)" if f else f"{s:.3g}" for f, s in zip(forced, scores)],
        textposition="auto",
        hovertemplate="%{y}<br>index score %{x:.4g}<extra></extra>",
        name="index score",
    )
    n = len(labels)
    return style.figure(
        [bars],
        title or f"The {n} keys it read, best first (index score)",
        height or max(260, 26 * n + 110),
        xaxis={"title": "index score I[t, s]"},
        yaxis={"autorange": "reversed", "type": "category", "automargin": True},
        showlegend=False,
    )


def decode_curves(bytes_read, seconds, current=None, bytes_label="cache bytes read", height=440):
    """Cumulative cache bytes read and wall seconds over the generated tokens, one line per mode.

    bytes_read, seconds: {mode: [n] per token}; the first token's seconds include the prefill (it is
    drawn, so the curve starts where the prefill ends). current: the token marked by a vertical line.
    """
    lay, doms = style.grid(1, 2, hgap=0.12, titles=(f"Cumulative {bytes_label} (MB)", "Cumulative time (s)"))
    data = []
    names = list(bytes_read)
    colours = dict(zip(names, style.line_colours(names)))
    dashes = dict(zip(names, ["solid", "dash", "dot", "dashdot"]))
    for col, (series, scale) in enumerate(((bytes_read, MB), (seconds, 1.0))):
        axis = "" if col == 0 else "2"
        for name, values in series.items():
            y = np.cumsum(style.f32(values)) / scale
            data.append(
                go.Scatter(
                    x=np.arange(1, len(y) + 1),
                    y=y,
                    name=name,
                    legendgroup=name,
                    showlegend=col == 0,
                    mode="lines+markers" if len(y) <= 64 else "lines",
                    line={"color": colours.get(name), "dash": dashes.get(name, "solid"), "width": 3},
                    xaxis=f"x{axis}",
                    yaxis=f"y{axis}",
                )
            )
    lay["xaxis"].update(title="generated token")
    lay["xaxis2"].update(title="generated token")
    shapes = []
    if current is not None:
        for axis in ("x", "x2"):
            shapes.append(
                {
                    "type": "line",
                    "xref": axis,
                    "yref": "paper",
                    "x0": current,
                    "x1": current,
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": style.ROLE["query"], "width": 2, "dash": "dot"},
                }
            )
    return go.Figure(data=data, layout=style.layout(None, height, shapes=shapes, **lay))


def step_cost_curves(contexts, measured_s, bytes_per_step, title=None, height=420):
    """A decode step against context length: measured seconds (left) and the cache bytes it reads (right).

    contexts [n]; measured_s {mode: [n] seconds}; bytes_per_step {name: [n] bytes} (from step_bytes).
    """
    lay, doms = style.grid(
        1, 2, hgap=0.12, share="x", titles=("Measured time per token (ms)", "Cache bytes read per token (MB)")
    )
    x = style.f32(contexts)
    data = []
    for col, (series, scale) in enumerate(((measured_s, 1e-3), (bytes_per_step, MB))):
        axis = "" if col == 0 else "2"
        names = list(series)
        colours = dict(zip(names, style.line_colours(names)))
        for i, (name, values) in enumerate(series.items()):
            data.append(
                go.Scatter(
                    x=x,
                    y=style.f32(values) / scale,
                    name=name,
                    mode="lines+markers",
                    marker={"symbol": ["circle", "square", "diamond", "triangle-up"][i % 4], "size": 9},
                    line={
                        "color": colours[name],
                        "dash": ["solid", "dash", "dot", "dashdot"][i % 4],
                        "width": 3,
                    },
                    xaxis=f"x{axis}",
                    yaxis=f"y{axis}",
                )
            )
    for axis in ("xaxis", "xaxis2"):
        lay[axis].update(title="context (tokens)", **style.log_axis(x))
    lay["yaxis"].update(rangemode="tozero")
    lay["yaxis2"].update(rangemode="tozero")
    return go.Figure(data=data, layout=style.layout(title, height, **lay))


def continuation_html(prompt_tail, tokens, first_diff=None, current=None, label=""):
    """One continuation as HTML: the end of the prompt (faded), then the generated tokens; tokens from
    the first one that differs from the other mode on are underlined (✱ at the first), the current
    step ringed. prompt_tail, tokens: display strings; first_diff, current: 0-based generated indices."""
    out = [
        "<div style='line-height:2;font-size:1.02rem;direction:ltr' dir='ltr'>",
        f"<b>{html.escape(label)}</b> " if label else "",
        f"<span style='opacity:.5'>…{html.escape(''.join(map(style.display_token, prompt_tail)))}</span>",
    ]
    for i, tok in enumerate(tokens):
        shown = html.escape(style.display_token(tok).replace("·", " ").replace("↵", "↵\n"))
        css, marks, desc = "white-space:pre-wrap;", "", [f"generated token {i + 1}"]
        if first_diff is not None and i >= first_diff:
            css += f"box-shadow:inset 0 -3px 0 {style.ROLE['missed']};"
            desc.append("differs from the other continuation from here on")
            marks = "✱" if i == first_diff else ""
        if current is not None and i == current:
            css += f"outline:3px solid {style.ROLE['query']};padding:0 2px;"
            desc.append("the step shown below")
        label_text = html.escape("; ".join(desc), quote=True)
        sup = f"<sup aria-hidden='true'>{marks}</sup>" if marks else ""
        out.append(f"<span style='{css}' title='{label_text}' aria-label='{label_text}'>{shown}{sup}</span>")
    out.append("</div>")
    return "".join(out)
