"""One diagram of DSA's data flow for a query t: lightning indexer → top-k → gather → attention.

Boxes carry the step, its tensor shapes (DeepSeek's letters, docs/architecture.md) and its cost, so
the picture can be projected before any code: the indexer still touches every earlier key (O(T) per
query), everything after top-k touches only k of them. No numbers are computed here.
"""

import plotly.graph_objects as go

from dsa_core.viz import style

STEPS = (
    (
        "lightning indexer",
        "I[t, s] = Σ_j w·ReLU(q_j·k_s)",
        "q [h, d], k [T, d], w [h]",
        "every s ≤ t: O(T)",
        "indexer",
    ),
    (
        "top-k selection",
        "S_t = k best s ≤ t",
        "→ idx [k], −1 = empty",
        "one set per token, all heads",
        "oracle",
    ),
    ("gather", "K[S_t], V[S_t]", "→ [k, H_kv, D]", "only k rows read", "window"),
    ("sparse attention", "softmax over S_t only", "→ o_t [H, Dv]", "O(k) per query", "dense"),
)


def pipeline_diagram(k=None, height=300):
    """The four steps as boxes joined by arrows; `k` (optional) is written into the top-k box."""
    fig = go.Figure()
    n, w, gap = len(STEPS), 0.2, 0.0667
    for i, (name, formula, shapes, cost, role) in enumerate(STEPS):
        x0 = i * (w + gap)
        colour = style.ROLE[role]
        fig.add_shape(
            type="rect",
            x0=x0,
            x1=x0 + w,
            y0=0.15,
            y1=0.85,
            xref="x",
            yref="y",
            line={"color": colour, "width": 3},
            fillcolor="rgba(0,0,0,0)",
        )
        title = name if not (k and name.startswith("top-k")) else f"top-{k} selection"
        text = f"<b>{title}</b><br>{formula}<br>{shapes}<br><i>{cost}</i>"
        fig.add_annotation(
            x=x0 + w / 2, y=0.5, xref="x", yref="y", text=text, showarrow=False, font={"size": 13}
        )
        if i < n - 1:
            fig.add_annotation(
                x=x0 + w + gap - 0.004,
                y=0.5,
                ax=x0 + w + 0.004,
                ay=0.5,
                xref="x",
                yref="y",
                axref="x",
                ayref="y",
                showarrow=True,
                arrowhead=3,
                arrowsize=1.5,
                arrowwidth=2,
                text="",
            )
    fig.update_xaxes(visible=False, range=[-0.01, 1.01], fixedrange=True)
    fig.update_yaxes(visible=False, range=[0, 1], fixedrange=True)
    fig = style.base_layout(fig, "DSA for one query t: score every key cheaply, keep k, attend to k", height)
    return fig.update_layout(plot_bgcolor="rgba(0,0,0,0)", margin={"l": 10, "r": 10})
