"""What the indexer picks, counted: how far back the kept keys lie, which keys every query keeps (attention
sinks), each indexer head's vote for one query's best keys, and the methods side by side at one budget.
"""

import numpy as np
import plotly.graph_objects as go

from dsa_core.viz import style


def pick_distances(query, selected, height=300):
    """Histogram of how far back the kept keys lie (query − key) for one query."""
    sel = np.asarray(selected, dtype=np.int64).ravel()
    d = (int(query) - sel[sel >= 0]).astype(np.float32)
    fig = go.Figure(go.Histogram(x=d, nbinsx=40, marker={"color": style.ROLE["indexer"]}, name="kept keys"))
    fig.update_xaxes(title_text="distance back from the query (tokens)")
    fig.update_yaxes(title_text="kept keys")
    return style.base_layout(fig, "How far back does the indexer look?", height)


def key_popularity(counts, tokens=None, top=15, height=None):
    """How many queries keep each key (sinks show up as keys everyone keeps): the `top` most kept."""
    c = style.f32(counts)
    order = np.argsort(-c, kind="stable")[:top]
    labels = (
        style.token_labels([tokens[i] for i in order], 0) if tokens is not None else [str(i) for i in order]
    )
    labels = (
        [f"{i}:{lab.split(':', 1)[1]}" for i, lab in zip(order, labels)] if tokens is not None else labels
    )
    fig = go.Figure(
        go.Bar(
            x=c[order],
            y=labels,
            orientation="h",
            marker={"color": style.ROLE["indexer"]},
            hovertemplate="%{y}: kept by %{x:.0f} queries<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category", tickfont={"size": 12}, automargin=True)
    fig.update_xaxes(title_text="queries that keep this key")
    return style.base_layout(fig, "Most-kept keys (attention sinks)", height or 26 * len(order) + 130)


def baseline_bars(values, k=None, title=None, height=320):
    """One number per method at the same budget k, e.g. attention-mass recall:
    values = {"DSA indexer": .., "ideal top-k": .., "window + sinks": .., "random": ..}; each bar labelled."""
    names = list(values)
    v = style.f32([values[n] for n in names])
    role = {
        "indexer": "indexer",
        "dsa": "indexer",
        "ideal": "oracle",
        "oracle": "oracle",
        "window": "window",
        "random": "random",
    }
    colours = [style.ROLE[next((r for key, r in role.items() if key in n.lower()), "random")] for n in names]
    fig = go.Figure(
        go.Bar(
            x=v,
            y=names,
            orientation="h",
            marker={"color": colours},
            text=[f"{x:.3f}" for x in v],
            textposition="outside",
            hovertemplate="%{y}: %{x:.4f}<extra></extra>",
        )
    )
    fig.update_xaxes(range=[0, 1.12], title_text="attention mass kept (recall, 0 to 1)")
    fig.update_yaxes(autorange="reversed", type="category")
    return style.base_layout(fig, title or (f"Same budget k = {k}" if k else None), height)


def head_votes(votes, query, tokens=None, top=20, height=360):
    """Stacked bars: each indexer head's vote w·ReLU(q·k) for the `top` best-scored keys of one query
    (votes [h, query+1]; the stack height is the index score). Heads differ by colour and pattern."""
    v = style.f32(votes)
    order = np.argsort(-v.sum(0), kind="stable")[:top]
    labels = [style.token_labels([tokens[i]], int(i))[0] if tokens is not None else str(i) for i in order]
    patterns = ["", "/", ".", "x", "-", "|", "+", "\\"]
    data = [
        go.Bar(
            x=labels,
            y=v[j, order],
            name=f"indexer head {j}",
            marker={"color": style.PALETTE[j % 8], "pattern": {"shape": patterns[j % 8]}},
            hovertemplate="%{x}: %{y:.4f}<extra>head " + str(j) + "</extra>",
        )
        for j in range(len(v))
    ]
    return style.figure(
        data,
        f"Who voted for the top keys of query {query}?",
        height,
        barmode="relative",
        xaxis={"type": "category", "tickangle": -45},
        yaxis={"title": {"text": "w·ReLU(q·k) (unnormalised)"}},
    )
