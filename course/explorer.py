"""Sliders over the real model in a notebook: k, query, layer and head (ipywidgets, drawn by
JupyterLab's own widget manager, no network).

`explorer(loaded, text)` first displays a static view at the default settings (the fallback that an
exported HTML file keeps: widgets need a running kernel), then the sliders and a live area that redraws
the layer's maps, its recall against the baselines and the query's strip. Every number comes from
`dsa_core.analysis` (trace, views) and every figure from `dsa_core.viz`; one model run per new layer,
cached, so moving k, the query or the head costs no model run.
"""

from functools import lru_cache

from dsa_core import viz
from dsa_core.analysis import maps, numbers, trace

SLIDER_MIN_WIDTH = "420px"  # a track of about 300 px: more than 1 px per query of a 0-255 slider


def _figures(rec, k, query, head):
    """The three figures of one setting: maps, recall bars, query strip."""
    head = None if head == "mean" else int(head)
    v = numbers.layer_view(rec, k, head=head)
    layer = rec.layer
    who = "mean over heads" if head is None else f"head {head}"
    maps_fig = viz.aligned_maps(
        maps.view_maps(v), tokens=rec.tokens, query=query, title=f"layer {layer}, k = {v.k}, {who}"
    )
    recall = {n.replace("recall: ", ""): x for n, x in numbers.summary(v).items() if n.startswith("recall")}
    bars = viz.baseline_bars(recall, k=v.k, title=f"attention mass kept at k = {v.k} ({who})")
    strip = viz.query_strip(
        v.scores[query], v.dense[query], v.topk[query], query, tokens=rec.tokens, dense_top=v.oracle[query]
    )
    return maps_fig, bars, strip


def explorer(loaded, text, max_tokens=384, layer=12, k=64, query=None, head="mean", recs=None):
    """Display a static view, then sliders for k, query, layer and head over `loaded`'s model.

    recs: {layer: LayerTrace} already traced on the same text and max_tokens (saves a model run)."""
    import ipywidgets as w
    from IPython.display import Markdown, display

    n_layers = len(loaded.model.layers)

    known = dict(recs or {})

    @lru_cache(maxsize=8)
    def rec_of(layer):
        if layer in known:
            return known[layer]
        _, traced = trace.trace_layers(loaded, text, layers=[layer], topk=k, max_tokens=max_tokens)
        return traced[layer]

    rec = rec_of(layer)
    T = len(rec.tokens)
    query = T - 1 if query is None else query
    display(
        Markdown(
            f"**Static view** (layer {layer}, k = {k}, query {query}, {head}): "
            "what an exported HTML file shows."
        )
    )
    for fig in _figures(rec, k, query, head):
        display(fig)

    n_heads = 0 if rec.dense_probs is None else rec.dense_probs.shape[0]
    # One control per line, each as wide as the cell: in a row, JupyterLab shrinks sliders to about
    # 30 px, and a 0-255 query slider can then not be dragged. Every slider also takes a typed value.
    wide = {
        "layout": w.Layout(width="90%", min_width=SLIDER_MIN_WIDTH),
        "style": {"description_width": "60px"},
    }
    controls = {
        "k": w.IntSlider(value=k, min=1, max=min(256, T), description="k", **wide),
        "query": w.IntSlider(value=query, min=0, max=T - 1, description="query", **wide),
        "layer": w.IntSlider(value=layer, min=0, max=n_layers - 1, description="layer", **wide),
        "head": w.Dropdown(
            options=["mean"] + list(range(n_heads)),
            value=head,
            description="head",
            layout=w.Layout(width="220px"),
            style={"description_width": "60px"},
        ),
    }
    for c in controls.values():
        c.continuous_update = False
    out = w.Output()

    def redraw(_=None):
        with out:
            out.clear_output(wait=True)
            r = rec_of(controls["layer"].value)
            q = min(controls["query"].value, len(r.tokens) - 1)
            for fig in _figures(r, controls["k"].value, q, controls["head"].value):
                display(fig)

    for c in controls.values():
        c.observe(redraw, names="value")
    display(
        Markdown(
            "**Interactive view** (needs a running kernel): move a slider to draw it here; a new layer "
            "runs the model once."
        )
    )
    display(w.VBox([*controls.values(), out], layout=w.Layout(width="100%")))
    # The live view draws on the first slider move, not now: a figure captured into an Output widget
    # while the cell runs makes a headless run (nbclient, nbmake, CI) wait until its timeout.
    return controls
