"""Family: DSA's relatives on the same text, k and layer as Explore. Token top-k, block top-n, compressed
keys and shared indices: which keys each keeps, how much attention that holds, how alike the layers'
choices are, what the whole model loses, and what each saves (dsa_core/family/, cost model)."""

import json

import streamlit as st

from dsa_core.family import figures as vf
from dsa_core.family import measure as family_measure
from dsa_core.family import presets as family_presets
from dsa_core.family import selectors
from lessons import budget, keys, show, state
from lessons import family_cache as fc

st.title("Family: four ways to choose the k keys")
st.caption(
    "Since DeepSeek-V3.2-Exp, several models choose their keys differently: by **blocks** (after "
    "MiniMax-M3's MSA), against **compressed keys** (after DeepSeek-V4's CSA and a Qwen QSA design), or "
    "**sharing** one layer's choice with the next layers (after GLM-5.2's IndexShare and IndexCache). "
    "Here each is the mechanism scaled to this model and budget, not a copy of those models: the same "
    "text, the same k, the same trained indexers. Sources: docs/family.md."
)

a = state.analyse(state.current())
state.show_notes(a)
T, k, layer, text, mt, tokens = a["T"], a["k"], a["layer"], a["text"], a["max_tokens"], a["rec"].tokens
n_layers = a["model"]["n_layers"]

# 0. the page's work must fit in a session's share of the memory budget: checked before anything runs
#    (otherwise its own cached results would evict each other and the model would run again and again)
trace_bytes = budget.nbytes(a["rec"])
if not fc.fits(T, k, trace_bytes):
    need, smaller = fc.working_bytes(T, k, trace_bytes), fc.largest_k_that_fits(T, k, trace_bytes)
    st.warning(
        f"At {state.count(T, 'token')} and k = {k:,} this page would hold about {need / 2**30:.1f} GB, more "
        f"than the {budget.SESSION_BYTES / 2**30:.1f} GB one session may use on this server. "
        + (f"Use k = {smaller:,} or less, " if smaller else "")
        + "or lower the token limit in the sidebar."
    )
    if smaller:
        st.button(f"Use k = {smaller:,}", on_click=lambda: st.session_state.update(k=smaller))
    st.stop()

# 1. each member's parameters (budget k is the sidebar's; n·b = k and (k/c)·c = k)
c = st.columns(4)
blocks = [b for b in keys.BLOCKS if b <= k] or [1]
st.session_state.fam_block = min(keys.ensure("fam_block", k), blocks[-1])  # a smaller k allows fewer
block = c[0].select_slider(
    "Block top-n: tokens per block b",
    blocks,
    key="fam_block",
    help=f"The index scores are pooled over blocks of b keys; the best k/b blocks are kept ({k} tokens).",
)
pool = c[0].radio("Block score", ["max", "mean"], horizontal=True, key="fam_pool")
comps = [x for x in keys.COMPRESS if x <= k] or [1]
st.session_state.fam_c = min(keys.ensure("fam_c", k), comps[-1])
compress = c[1].select_slider(
    "Compressed keys: tokens per pooled key c",
    comps,
    key="fam_c",
    help="The indexer scores mean-pooled keys of c tokens: c times less score work.",
)
WEIGHTS = {
    "token": "trained for token keys (shipped)",
    "pooled": f"trained for pooled keys, c = {fc.POOLED_C}",
}
weights_help = (
    "Which indexers the compressed member scores with: the shipped ones, trained on single tokens, or "
    f"ones trained for keys pooled over c = {fc.POOLED_C} tokens (assets/indexers/"
    "smollm2_compressed_c4.safetensors; docs/family.md). The pooled-key weights exist for c = "
    f"{fc.POOLED_C} only."
)
if compress == fc.POOLED_C and fc.pooled_weights_fit():
    cweights = c[1].radio(
        "Compressed keys: indexers", list(WEIGHTS), format_func=WEIGHTS.get, key="fam_cw", help=weights_help
    )
else:
    c[1].radio(
        "Compressed keys: indexers", ["token"], format_func=WEIGHTS.get, disabled=True, help=weights_help
    )
    cweights = "token"
    c[1].caption(
        f"Pooled-key weights exist for c = {fc.POOLED_C} only"
        + ("." if fc.pooled_weights_fit() else " and for SmolLM2-135M only.")
    )
every = c[2].select_slider(
    "Shared indices: one computing layer per r",
    keys.EVERY,
    key="fam_every",
    help=f"{n_layers} layers; layer 0 always computes.",
)
rule = c[3].radio(
    "Which layers compute",
    ["every", "overlap"],
    format_func={"every": "every r-th layer", "overlap": "chosen by measured overlap"}.get,
    key="fam_rule",
    help="Overlap: as many computing layers, chosen greedily so that each layer's reused set overlaps "
    "its own top-k most (measured on this text).",
)
params = (block, pool, compress, rule, every, cweights)

# 2. the picks of one query
st.session_state.query = min(max(0, int(keys.ensure("query", T))), T - 1)  # a new text may be shorter
picks = fc.picks(text, layer, mt, k, params)


@st.fragment
def per_query():
    """The query slider and its picks: moving the query reruns only this part of the page. The picks
    come from the shared cache, not this page's globals, which the fragment keeps alive as long as the
    tab is open (the end of the page deletes the large ones)."""
    picks = fc.picks(text, layer, mt, k, params)
    if T > 1:
        st.slider("Query token", 0, T - 1, key="query")
    q = st.session_state.query
    st.subheader(f"What each member keeps for query {q} (layer {layer}, k = {k})")
    show.show_figure(
        vf.pick_rows({n: p[q] for n, p in picks.items()}, q, tokens), f"family-picks-q{q}", key="picks"
    )
    st.caption(f"Compressed keys (c = {compress}) score with the indexers {WEIGHTS[cweights]}.")
    state.show_link()  # the link follows the query (a fragment rerun does not redraw the sidebar)


per_query()

# 3. recall against the ideal and against each other
recall, agree = fc.recall(text, layer, mt, k, params)
c1, c2 = st.columns(2)
with c1:
    members = {n: r for n, r in recall.items() if n != "ideal top-k"}
    show.show_figure(vf.member_bars(members, ideal=recall["ideal top-k"]), "family-recall", key="recall")
    st.caption(f"Mean over the queries of layer {layer} that see more than k = {k} keys.")
with c2:
    show.show_figure(
        vf.overlap_heatmap(agree, labels=list(picks), title="How alike the members' picks are (Jaccard)"),
        "family-agreement",
        key="agree",
    )

# 4. the layer x layer overlap: why sharing works
st.subheader("Why sharing works: the layers' top-k sets overlap")
overlap = fc.overlap(text, mt, k)
computing = fc.computing(text, mt, k, rule, every)
show.show_figure(vf.overlap_heatmap(overlap, computing=computing), "family-layer-overlap", key="overlap")
adjacent = [float(overlap[i, i + 1]) for i in range(n_layers - 1)]
st.caption(
    f"Neighbouring layers share {min(adjacent):.0%}–{max(adjacent):.0%} of their picks (mean "
    f"{sum(adjacent) / len(adjacent):.0%}) on this text at k = {k} (mean over up to {fc.SAMPLE_ROWS} queries "
    f"spread over the text). Squares: the {len(computing)} layers "
    f"that compute their own top-k under '{rule}'; every other layer reuses the one above it. Each layer "
    f"then keeps on average {selectors.coverage(overlap.tolist(), computing):.0%} of its own top-k."
)

# 5. the whole model with each member in every layer (queued, with progress after every layer and Cancel)
st.subheader(f"The whole model with each member in all {n_layers} layers")
if st.session_state.pop("fam_ppl_cancelled", False):
    st.info("Cancelled: the model runs were stopped. Press the button again to start them over.")
have = fc.perplexities.cached(text, mt, k, params)
if have or st.button(
    f"Run the model {len(picks)} times on {state.count(T, 'token')} (dense, then each member)",
    key="fam_ppl_go",
):
    stop = st.empty()
    if not have:  # a new run: Cancel, a changed setting, another page or a closed tab stop it
        stop.button(
            "Cancel", key="fam_ppl_cancel", on_click=lambda: st.session_state.update(fam_ppl_cancelled=True)
        )
    ppl = fc.perplexities(text, mt, k, params)
    stop.empty()
    st.dataframe(
        [{"run": n, "perplexity": p, "vs dense": p / ppl["dense"] - 1} for n, p in ppl.items()],
        column_config={
            "perplexity": st.column_config.NumberColumn(format="%.3f"),
            "vs dense": st.column_config.NumberColumn(format="percent"),
        },
        hide_index=True,
    )

# 6. what each member saves, from the one cost model
st.subheader(f"What each member saves: a prefill of {state.count(T, 'token')}, whole model")
st.dataframe(
    fc.savings(text, mt, k, T, params),
    column_config={
        n: st.column_config.NumberColumn(format="%.3f")
        for n in ("indexer score GFLOP", "indexer vs token top-k", "top-k inputs (M scores)")
    }
    | {
        n: st.column_config.NumberColumn(format="%.2f")
        for n in ("attention GFLOP", "index cache MB", "KV cache MB")
    },
    hide_index=True,
)
st.caption(
    "Arithmetic, not timings (dsa_core.family.cost.member_cost): the same k keys reach attention in every "
    "member, so attention work and the KV cache do not change; the indexer's score work and its key cache "
    "shrink with compression (÷ c) and sharing (× computing share); blocks cut the top-k input (÷ b) and "
    "give a kernel contiguous keys to read, which this count does not show."
)

# 7. the code that ran
for fn in (selectors.block_topn, selectors.compressed_topk, selectors.share_sources, selectors.layer_overlap):
    show.show_source(fn)

# 8. The family as designed, at equal cost: a recorded GPU run on held-out texts, not the text above.
#    (A separate block: it reads the run file only; nothing above depends on it.)
st.divider()
st.subheader("The family as its designers build it, compared at equal cost")
if family_presets.RUN.exists():
    run = json.loads(family_presets.RUN.read_text(encoding="utf-8"))
    show.show_figure(vf.pareto(family_measure.pareto_points(run)), "family-pareto", key="pareto")
    st.caption(
        f"Recorded on {run['device']} ({family_presets.RUN.name}): the three long held-out texts at "
        f"{run['tokens']:,} tokens, k = {run['k']} tokens read by every member; indexer FLOPs from the cost "
        "model (dsa_core.family.cost.member_cost), whole model, per token. Trained members use their own "
        "weights (assets/indexers/); docs/family.md gives the commands, seeds and targets."
    )
    st.dataframe(
        [
            {"preset": p.name, "theirs": p.theirs, "ours (k = 128, 30 layers)": p.ours, "sources": p.sources}
            for p in family_presets.PRESETS
        ],
        hide_index=True,
    )
else:
    st.info(f"The recorded run ({family_presets.RUN.name}) is not installed; docs/family.md shows its table.")
show.show_source(family_measure.pareto_points)

del a, picks, recall, agree, overlap  # the fragment above holds the page's globals while the tab is open
