"""Cached calls into dsa_core, keyed by text + settings, so moving the query, k or the head never re-runs
the model. No algorithm lives here: each function routes its inputs to one dsa_core call.

The caches' values are never modified after creation, so browser tabs can't interfere.
"""

import streamlit as st

from dsa_core import viz
from lessons import models

PER_HEAD_MAX = 2048  # above this, only the head-mean map is kept (H x T^2 floats is too much)


def load():
    """(LoadedModel with one lightning indexer per layer, a sentence saying which indexers): this
    session's model (lessons/models.py: the embedded SmolLM2-135M or a local folder)."""
    return models.load()


def model_info():
    """(name, n_layers, n_heads, max_seq_len) of this session's model, for the pages' sentences."""
    loaded = load()[0]
    cfg = loaded.model.cfg
    return {
        "name": loaded.name,
        "n_layers": cfg.n_layers,
        "n_heads": cfg.n_heads,
        "max_seq_len": cfg.max_seq_len,
    }


@models.per_model(max_entries=4)
def trace(text, layer, max_tokens):
    """(PreparedText, LayerTrace) of one layer: the only call that runs the model for a page view."""
    from dsa_core.analysis.trace import trace_layers

    loaded, _ = load()
    prep, recs = trace_layers(
        loaded, text, [layer], max_tokens=max_tokens, per_head=max_tokens <= PER_HEAD_MAX
    )
    return prep, recs[layer]


@models.per_model(max_entries=16)
def ranked(text, layer, max_tokens, which, head, m):
    """One selection ranked once ([T, m] picks, best first): every k <= m is a slice of it (no T x T pass).
    head matters only for the ideal top-k."""
    from dsa_core.analysis import ranked as rk

    return rk.rank(trace(text, layer, max_tokens)[1], which, m, head)


@models.per_model(max_entries=4)
def ranked_heads(text, layer, max_tokens, m):
    """The ideal top-k of every head, ranked once per text ([H, T, m] or None): a head change is a slice."""
    from dsa_core.analysis import ranked as rk

    return rk.rank_heads(trace(text, layer, max_tokens)[1], m)


@st.cache_resource(max_entries=4, show_spinner=False)
def ranked_random(T, m):
    """The random baseline ranked once per length (it does not depend on the text)."""
    from dsa_core.analysis import ranked as rk

    return rk.ranked_random(T, m)


def picks(text, layer, max_tokens, k, head=None):
    """Every selection at budget k (indexer, ideal of this head, window, random) as slices: O(T·k)."""
    from dsa_core.analysis import ranked as rk

    T = len(trace(text, layer, max_tokens)[1].tokens)
    k = min(max(1, k), T)
    m = rk.bucket(k, T)
    heads = ranked_heads(text, layer, max_tokens, m)  # all heads now, with the new text
    ideal = (
        heads[head]
        if head is not None and heads is not None
        else ranked(text, layer, max_tokens, "ideal top-k", head, m)
    )
    ranks = {
        "DSA indexer": ranked(text, layer, max_tokens, "DSA indexer", None, m),
        "ideal top-k": ideal,
        "random": ranked_random(T, m),
    }
    return rk.picks_from(ranks, T, k)


@models.per_model(max_entries=24)
def view(text, layer, max_tokens, k, head):
    from dsa_core.analysis import views

    return views.layer_view(
        trace(text, layer, max_tokens)[1], k, head, picks=picks(text, layer, max_tokens, k, head)
    )


@models.per_model(max_entries=8)
def base_maps(text, layer, max_tokens, head, how, zoom):
    """Index scores and dense attention, pooled (or zoomed) once per setting: they do not depend on k."""
    from dsa_core.analysis import ranked as rk

    return rk.base_maps(trace(text, layer, max_tokens)[1], head, how, zoom, viz.GRID_SIDE)


@models.per_model(max_entries=24)
def maps(text, layer, max_tokens, k, head, how, zoom):
    """The six maps; those that depend on k are pooled straight from the [T, k] picks (O(T·k))."""
    from dsa_core.analysis import ranked as rk

    return rk.pick_maps(
        view(text, layer, max_tokens, k, head),
        base_maps(text, layer, max_tokens, head, how, zoom),
        how,
        zoom,
        viz.GRID_SIDE,
    )


@models.per_model(max_entries=4)
def layer_values(text, layer, max_tokens):
    """(value vectors [T,H_kv,D], dense output of the last 128 queries): k-independent, once per text."""
    from dsa_core.analysis import views

    rec, model = trace(text, layer, max_tokens)[1], load()[0].model
    v, T = views.layer_values(model, rec), len(rec.tokens)
    return v, views.dense_output(model, rec, max(0, T - 128), T, v)


@models.per_model(max_entries=64)
def output_change(text, layer, max_tokens, k, query=None):
    """Output change of this layer at one query, or (query=None) its mean over the last 128 queries."""
    from dsa_core.analysis import ranked as rk
    from dsa_core.analysis import views

    rec = trace(text, layer, max_tokens)[1]
    T = len(rec.tokens)
    s0, s1 = (query, query + 1) if query is not None else (max(0, T - 128), T)
    v, dense_tail = layer_values(text, layer, max_tokens)
    idx = rk.take(ranked(text, layer, max_tokens, "DSA indexer", None, rk.bucket(k, T)), min(max(1, k), T))
    out = views.output_change(load()[0].model, rec, idx, s0, s1, v, dense_tail if query is None else None)
    return float(out.mean())


@models.per_model(max_entries=8)
def next_token_effect(text, max_tokens, k):
    """DSA in every layer vs dense (two full model runs)."""
    from dsa_core.analysis import views
    from dsa_core.analysis.trace import encode
    from dsa_core.dsa import dsa_select

    ids = encode(load()[0], text, max_tokens).ids
    return views.next_token_effect(load()[0].model, ids, k, dsa_select(k))


def indexer(layer):
    """The lightning indexer attached to this layer (read-only)."""
    return load()[0].model.layers[layer].self_attn.indexer


@models.per_model(max_entries=16)
def head_votes(text, layer, max_tokens, query):
    from dsa_core.analysis import walkthrough as steps

    return steps.head_votes(indexer(layer), trace(text, layer, max_tokens)[1].x, query)


@models.per_model(max_entries=16)
def indexer_vs_target(text, layer, max_tokens, query):
    from dsa_core.analysis import walkthrough as steps

    return steps.indexer_vs_target(trace(text, layer, max_tokens)[1], query)


@models.per_model(max_entries=4)
def kl_per_query(text, layer, max_tokens):
    from dsa_core.analysis import walkthrough as steps

    return steps.kl_per_query(trace(text, layer, max_tokens)[1])


@models.per_model(max_entries=8)
def fp8_agreement(text, layer, max_tokens, k):
    from dsa_core.analysis import walkthrough as steps

    return steps.fp8_agreement(indexer(layer), trace(text, layer, max_tokens)[1].x, k)


def start_training(text, layer, max_tokens, k, steps, lr, n_queries, fresh=True):
    """(the starting indexer, a private copy that trains, the dsa_core stage-1 generator training it) on the
    trace's x. Starts from fresh random weights or from the model's own indexer; the copies live in this
    session only: the shared model's indexers are never modified."""
    import copy

    from dsa_core.train.stage1 import fresh_copy, train_indexers

    rec = trace(text, layer, max_tokens)[1]
    start = fresh_copy(indexer(layer), seed=layer) if fresh else indexer(layer)
    mine = copy.deepcopy(start)
    T = len(rec.tokens)
    gen = train_indexers(
        load()[0].model,
        {layer: mine},
        {layer: rec.x[None]},
        steps=steps,
        lr=lr,
        batch_size=1,
        n_queries=min(n_queries, T),
        topk=k,
        log_every=max(1, steps // 25),
    )
    return start, mine, gen


def view_with(text, layer, max_tokens, k, head, indexer_module):
    """LayerView of the trace scored by a session's own indexer (not cached: it changes while training)."""
    from dsa_core.analysis import views

    return views.layer_view(views.with_indexer(trace(text, layer, max_tokens)[1], indexer_module), k, head)
