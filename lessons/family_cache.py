"""Cached dsa_core calls of the Family page, in lessons/cache.py's byte budget and work queue, keyed by
text + settings (and the session's model), so moving the query or a member's parameter never re-runs
the model. No algorithm lives here: each function routes its inputs to dsa_core.family.on_text or
dsa_core.family.selectors.

The expensive step, once per text: one dense run of every layer, each layer's indexer ranked to a prefix
of m picks (m = a power of two ≥ k, at least 128), so every k ≤ m is a slice.
"""

from dsa_core.host.indexers import COMPRESSED_C as POOLED_C  # the c the pooled-key indexers were trained for
from lessons import cache

FLOOR = 128  # the shortest ranked prefix: L x T x 128 int16 is 16 MB at 2,048 tokens


def ids(text, max_tokens):
    from dsa_core.analysis.trace import encode

    return encode(cache.load()[0], text, max_tokens).ids


def prefix(k, T):
    """Ranked prefix length for budget k: a power of two ≥ k, at least FLOOR, at most T."""
    return int(min(T, max(FLOOR, 1 << max(0, int(k) - 1).bit_length())))


@cache.budgeted(heavy="Running every layer's indexer")
def ranked_layers(text, max_tokens, m, report=None):
    """Token top-m of every layer's indexer: int16/32 [L, T, m] (one dense run of the model)."""
    from dsa_core.family import on_text as fa

    return fa.ranked_all_layers(cache.load()[0].model, ids(text, max_tokens), m, report)


def token_by_layer(text, max_tokens, k):
    from dsa_core.family import on_text as fa

    T = len(ids(text, max_tokens))
    return fa.take(ranked_layers(text, max_tokens, prefix(k, T)), min(k, T))


@cache.budgeted(heavy="Measuring the layer overlap")
def overlap(text, max_tokens, k, report=None):
    """Layer x layer Jaccard overlap of the token top-k: [L, L]."""
    from dsa_core.family import selectors

    return selectors.layer_overlap(token_by_layer(text, max_tokens, k))


def computing(text, max_tokens, k, rule, every):
    """The shared member's computing layers: every r-th layer, or as many chosen from this text's overlap."""
    from dsa_core.family import selectors

    L = cache.model_info()["n_layers"]
    if rule == "every":
        return selectors.every_r(L, every)
    return selectors.by_overlap(overlap(text, max_tokens, k).tolist(), len(selectors.every_r(L, every)))


def pooled_weights_fit():
    """Whether the indexers trained for pooled keys fit this session's model (same width and layers)."""
    from dsa_core.host.indexers import COMPRESSED_PATH, cached_indexers

    if not COMPRESSED_PATH.exists():
        return False
    own, model = cached_indexers(str(COMPRESSED_PATH)), cache.load()[0].model  # read once per process
    return len(own) == len(model.layers) and all(
        i is not None and i.wk.in_features == model.cfg.dim for i in own
    )


def page_members(text, max_tokens, k, params):
    """The four members (Members) for the page's parameters (block, pool, compress, rule, every, weights):
    weights "pooled" gives the compressed member the indexers trained for pooled keys (c = 4 only)."""
    from dataclasses import replace

    from dsa_core.family import on_text as fa
    from dsa_core.host.indexers import COMPRESSED_PATH

    block, pool, compress, rule, every, weights = params
    comp = computing(text, max_tokens, k, rule, every)
    out = fa.members(k, block=block, pool=pool, compress=compress, every=every, computing=comp)
    if weights == "pooled" and compress == POOLED_C:
        out["compressed keys"] = replace(out["compressed keys"], weights=str(COMPRESSED_PATH))
    return out


@cache.budgeted()
def member(text, layer, max_tokens, k, name, v):
    """One member's picks at this layer ([T, K]), cached by its own parameters only: changing the block
    size never recomputes the compressed member, and a new r costs no indexer work at all."""
    from dsa_core.family import on_text as fa
    from dsa_core.family.in_model import member_indexer

    rec = cache.trace(text, layer, max_tokens)[1]
    attached = cache.load()[0].model.layers[layer].self_attn.indexer
    indexer = member_indexer(v, layer, attached, rec.x.device)  # the member's own weights, if any
    tokens = token_by_layer(text, max_tokens, k)
    return fa.member_picks(indexer, rec.x, {name: v}, k, tokens, layer, scores=rec.index_scores)[name]


def picks(text, layer, max_tokens, k, params):
    """Each member's picks at this layer, after the ideal top-k: {name: [T, K]}."""
    from dsa_core.analysis import rank

    ideal = rank.picks(cache.ranked(text, layer, max_tokens, "ideal top-k"), k).long()
    members = page_members(text, max_tokens, k, params)
    return {"ideal top-k": ideal, **{n: member(text, layer, max_tokens, k, n, v) for n, v in members.items()}}


@cache.budgeted(size=lambda _: 4096)
def recall(text, layer, max_tokens, k, params):
    """(recall of each selection {name: float}, Jaccard overlap between the selections [n, n])."""
    from dsa_core.family import on_text as fa

    p = picks(text, layer, max_tokens, k, params)
    return fa.recall_table(cache.trace(text, layer, max_tokens)[1].dense_mean, p, k), fa.agreement(p)


def savings(text, max_tokens, k, T, params):
    """What each member costs for a prefill of T tokens (the cost model): rows of numbers."""
    from dsa_core.family import on_text as fa

    shape = fa.host_shape(cache.load()[0].model, k)
    return fa.savings(shape, T, page_members(text, max_tokens, k, params))


@cache.budgeted(heavy="Running the model with each member", size=lambda _: 512)
def perplexities(text, max_tokens, k, params, report=None):
    """Dense and each member in every layer, {name: perplexity}: five model runs, with progress.
    perplexities.cached(...) says whether they are there already (then the page shows them)."""
    from dsa_core.family import on_text as fa

    members = page_members(text, max_tokens, k, params)
    return fa.perplexities(cache.load()[0].model, ids(text, max_tokens), k, members, report)
