"""Explore (the landing page): paste a text, pick a query token, and see what DSA's indexer scored,
what top-k kept, and how much of dense attention the sparse version keeps, next to the baselines."""

import streamlit as st

from dsa_core import viz
from dsa_core.analysis import numbers
from lessons import cache, keys, show, state

st.title("Explore: what does DeepSeek Sparse Attention keep?")
st.caption(
    "For every query token, a small **lightning indexer** scores all earlier tokens; **top-k selection** "
    "keeps the k best; attention then runs over those k only. Pick a query below and compare with the "
    "full (dense) attention the model really uses."
)

# 1. controls and the cached analysis (the model runs once per text + layer)
a = state.analyse(state.current())
state.show_notes(a)
if "UNTRAINED" in a["indexer"]:
    st.info(a["indexer"])
T, k, tokens = a["T"], a["k"], a["rec"].tokens
st.session_state.query = min(max(0, int(keys.ensure("query", T))), T - 1)  # a new text may be shorter


with st.spinner(f"Selecting the top {k} keys of each of the {T:,} queries…"):
    v = cache.view(a["text"], a["layer"], a["max_tokens"], k, a["head"])


def analysis_and_view():
    """The page's analysis and view, from the byte-budgeted cache all sessions share. The fragment
    below fetches them itself rather than reading this page's globals: Streamlit keeps a fragment, and
    with it the page's globals, as long as the tab is open, so a global trace would stay in memory
    after the budget dropped it (the end of the page deletes the large globals)."""
    a = state.analyse(state.current(), spinner=False)
    return a, cache.view(a["text"], a["layer"], a["max_tokens"], a["k"], a["head"])


@st.fragment
def per_query():
    """Everything that changes with the query. Moving the query (slider, token grid, map row) reruns
    only this part: the sidebar, the analysis and the keys' popularity are not redrawn or re-sent."""
    a, v = analysis_and_view()
    if T > 1:
        st.slider(
            "Query token (or click a token in the grid, or a row of the maps, below)", 0, T - 1, key="query"
        )
    else:
        st.info(
            "The text is a single token: it can only attend to itself, so there is nothing for the indexer "
            "to choose. Add more text to see selection at work."
        )
    q = st.session_state.query
    kept = v.topk[q][v.topk[q] >= 0]
    visible = q + 1
    rq = {name: float(r[q]) for name, r in v.recall.items()}
    who = f"the mean of the {a['model']['n_heads']} heads" if v.head is None else f"head {v.head}"
    st.markdown(
        f"**Query {q} `{viz.display_token(tokens[q])}`** (layer {a['layer']}, {who}): it sees "
        f"{state.count(visible, 'token')}; the indexer kept **{len(kept)}** of them. Those hold "
        f"**{rq['DSA indexer']:.0%}** of the dense attention weight, so the sparse version **loses "
        f"{max(0.0, 1 - rq['DSA indexer']):.0%}**. The ideal {state.count(min(k, visible), 'token')} "
        "would hold "
        f"{rq['ideal top-k']:.0%}; the indexer's picks overlap the ideal set by {v.overlap[q]:.0%}."
    )

    # 2. the text: query, picks shaded by index score, dense attention's own top-k marked
    st.subheader("The text")
    st.markdown(viz.LEGEND, unsafe_allow_html=True)
    st.markdown(viz.token_html(tokens, q, kept, v.scores[q], v.oracle[q]), unsafe_allow_html=True)
    # A lazy expander: its grid (a Plotly chart) is built and drawn only while it is open, so a closed
    # one costs a rerun nothing (the chart is redrawn on every query move, k or layer otherwise).
    grid = st.expander(
        "Click a token to make it the query", expanded=T <= 256, key="grid_open", on_change="rerun"
    )
    if grid.open:
        start = max(0, min(q - 96, T - 192))
        grid.caption(
            f"Tokens {start}–{min(T, start + 192) - 1} (move the slider to see others). "
            "Ring = query, square = kept by the indexer."
        )
        grid.plotly_chart(
            viz.token_grid(tokens[: start + 192], q, kept, start=start),
            key="token_grid",
            on_select=show.query_from_click("token_grid"),
            selection_mode="points",
            config={"displayModeBar": False},
        )

    # 3. the per-query strip: index scores against true attention
    st.subheader("Index scores against dense attention, for this query")
    show.show_figure(
        viz.query_strip(v.scores[q], v.dense[q], kept, q, tokens, dense_top=v.oracle[q]),
        f"strip-q{q}",
        key="strip",
    )

    # 4. the numbers, and the same budget under baselines
    st.subheader("How much attention does the selection keep?")
    oc_q = cache.output_change(a["text"], a["layer"], a["max_tokens"], k, q)
    oc_mean = cache.output_change(a["text"], a["layer"], a["max_tokens"], k)
    mean = numbers.summary(v)
    c = st.columns(4)
    c[0].metric(
        "Attention-mass recall (this query)",
        f"{rq['DSA indexer']:.3f}",
        help="Σ of dense attention over the kept tokens (1 = nothing lost).",
    )
    c[1].metric(
        "Recall, mean over queries",
        f"{mean['recall: DSA indexer']:.3f}",
        help=f"Over the {mean['queries counted']} queries that see more than k tokens.",
    )
    c[2].metric("Overlap with ideal top-k", f"{v.overlap[q]:.2f}", help="|indexer picks ∩ ideal top-k| / k")
    c[3].metric(
        "Output change of this layer",
        f"{oc_q:.3f}",
        help=f"‖o_sparse − o_dense‖ / ‖o_dense‖ of this layer's attention output, for this query; "
        f"mean over the last 128 queries: {oc_mean:.3f}.",
    )
    c1, c2 = st.columns(2)
    with c1:
        show.show_figure(
            viz.baseline_bars(rq, title=f"This query, same budget k = {k}"), f"baselines-q{q}", key="base_q"
        )
    with c2:
        show.show_figure(
            viz.baseline_bars(
                {n.replace("recall: ", ""): x for n, x in mean.items() if n.startswith("recall")},
                title="Mean over queries",
            ),
            "baselines-mean",
            key="base_mean",
        )

    if cache.next_token_effect.cached(a["text"], a["max_tokens"], k):  # once the whole model has run (below)
        e = cache.next_token_effect(a["text"], a["max_tokens"], k)
        qe = min(q, len(e["kl"]) - 1)
        c = st.columns(4)
        c[0].metric(
            "Next-token KL at this query",
            f"{e['kl'][qe]:.4f}",
            help="KL(dense ‖ DSA in every layer) in nats",
        )
        c[1].metric("Top-1 prediction changed here?", "yes" if e["top1_changed"][qe] else "no")

    # 5. aligned maps over the whole text (pooled when long), or a zoomed window at full resolution
    st.subheader("All queries at once: aligned maps")
    zoom = None
    if T > viz.GRID_SIDE:
        if st.toggle("Zoom into a window at full resolution", key="zoom_on"):
            keys.ensure("zoom_lo", min(max(0, q - viz.GRID_SIDE // 2), T - viz.GRID_SIDE))  # around the query
            st.session_state.zoom_lo = min(st.session_state.zoom_lo, T - viz.GRID_SIDE)
            lo = st.slider("Window start", 0, T - viz.GRID_SIDE, key="zoom_lo")
            zoom = (lo, viz.GRID_SIDE)
    with st.spinner("Pooling the maps…"):
        fig = show.maps_figure(
            a["text"], a["layer"], a["max_tokens"], k, a["head"], st.session_state.pool, zoom, q
        )
    st.caption(
        "Click a row of the index-score or dense-attention map: that query becomes the query everywhere "
        "on the page (pooled maps: the first query of the block). Hover names the query and key; the "
        "values are in the CSV and JSON below the maps."
    )
    show.show_figure(
        fig,
        "maps",
        key="maps",
        on_select=show.query_from_click("maps"),
        selection_mode="points",
    )

    # 7. selection statistics: how far back this query's picks reach
    st.subheader("Selection statistics")
    c1, _ = st.columns(2)
    with c1:
        show.show_figure(viz.pick_distances(q, kept), f"distances-q{q}", key="dist")
    state.show_link()  # the link follows the query (a fragment rerun does not redraw the sidebar)


per_query()
c1, _ = st.columns(2)  # ... and which keys every query picks (the whole text: outside the fragment)
with c1:
    show.show_figure(viz.key_popularity(v.counts, tokens), "popular-keys", key="pop")

# 6. the whole model: DSA in every layer. Outside the fragment, so that Cancel (and any changed setting)
# reruns the whole page, which is what stops a running comparison; its per-query numbers are above.
st.subheader(f"The whole model with DSA in all {a['model']['n_layers']} layers")
if st.session_state.pop("effect_cancelled", False):
    st.info("Cancelled: the two model runs were stopped. Press the button again to start them over.")
e, have = None, cache.next_token_effect.cached(a["text"], a["max_tokens"], k)
if have or st.button(f"Run the model twice (dense, and DSA with k = {k} in every layer)", key="run_effect"):
    stop = st.empty()
    if not have:  # a new run: it can be stopped (a changed setting, another page or a closed tab stop it too)
        stop.button(
            "Cancel", key="cancel_effect", on_click=lambda: st.session_state.update(effect_cancelled=True)
        )
    e = cache.next_token_effect(a["text"], a["max_tokens"], k)
    stop.empty()
    if not have:
        st.rerun()  # the query's own numbers, drawn above before this run ended, now show too (cached)
if e is not None:
    c = st.columns(2)
    c[0].metric("Mean KL over the text", f"{e['kl'].mean():.4f}", help="KL(dense ‖ DSA) in nats")
    c[1].metric("Top-1 changed at", f"{e['top1_changed'].mean():.0%} of positions")
    st.caption(
        f"Perplexity of the text: dense {e['perplexity']['dense']:.2f}, DSA everywhere "
        f"{e['perplexity']['dsa']:.2f}. The query's own KL and top-1 change are shown with its numbers above."
    )

del a, v, e  # the fragment above holds this page's globals as long as the tab is open (analysis_and_view)
