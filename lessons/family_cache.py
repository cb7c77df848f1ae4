"""Cached dsa_core calls of the Family page, in lessons/cache.py's byte budget and work queue, keyed by
text + settings (and the session's model), so moving the query or a member's parameter never re-runs
the model. No algorithm lives here: each function routes its inputs to dsa_core.family.on_text or
dsa_core.family.selectors.

The layer overlap comes from one dense run of every layer, each layer's indexer ranked to a prefix of
m picks (m = a power of two ≥ k, at least 128, so every k ≤ m is a slice) at SAMPLE_ROWS queries spread
over the text. The token and shared members' picks at the shown layer are the Explore page's own
ranking of the indexer (cache.ranked) at that layer or at the layer it reuses; block and compressed
members are stored as int16. Before any of it runs, `working_bytes` says whether the page fits in a
session's share of the budget (budget.SESSION_BYTES); the page offers a smaller k when it does not.
"""

from dsa_core.host.indexers import COMPRESSED_C as POOLED_C  # the c the pooled-key indexers were trained for
from lessons import budget, cache

FLOOR = 128  # the shortest ranked prefix
SAMPLE_ROWS = 256  # queries per layer for the layer overlap: L x 256 x m int16 is 31 MB at m = 2,048


def ids(text, max_tokens):
    from dsa_core.analysis.trace import encode

    return encode(cache.load()[0], text, max_tokens).ids


def prefix(k, T):
    """Ranked prefix length for budget k: a power of two ≥ k, at least FLOOR, at most T."""
    return int(min(T, max(FLOOR, 1 << max(0, int(k) - 1).bit_length())))


def _layers():
    return cache.model_info()["n_layers"]


@cache.budgeted(
    heavy="Running every layer's indexer",
    cost=lambda text, max_tokens, m: cache.work(cache.n_tokens(text, max_tokens), _layers()),
)
def ranked_layers(text, max_tokens, m, report=None):
    """(query positions [R], token top-m of every layer's indexer at them: int16 [L, R, m]): one dense
    run of the model, SAMPLE_ROWS queries spread over those that see more than m keys."""
    from dsa_core.family import on_text as fa

    token_ids = ids(text, max_tokens)
    rows = fa.sample_rows(len(token_ids), m, SAMPLE_ROWS)
    return rows, fa.ranked_sampled_layers(cache.load()[0].model, token_ids, m, rows, report)


@cache.budgeted()
def overlap(text, max_tokens, k):
    """Layer x layer Jaccard overlap of the token top-k, mean over the sampled queries: [L, L]."""
    from dsa_core.family import on_text as fa

    T = len(ids(text, max_tokens))
    m = prefix(k, T)
    deeper = sorted({prefix(m << i, T) for i in range(1, 8)} - {m, T})  # its queries see > k keys too
    m = next((d for d in deeper if ranked_layers.cached(text, max_tokens, d)), m)
    rows, ranked = ranked_layers(text, max_tokens, m)
    return fa.sampled_overlap(ranked, min(k, T))


def token_picks(text, layer, max_tokens, k):
    """The token top-k of one layer's indexer: a slice of the Explore page's ranking ([T, K] int16)."""
    from dsa_core.analysis import rank

    T = len(cache.trace(text, layer, max_tokens)[1].tokens)
    return rank.picks(cache.ranked(text, layer, max_tokens, "DSA indexer", k=k), min(k, T))


def working_bytes(T, k, trace_bytes):
    """Bytes the page holds for one layer at budget k, at its peak: the traces of the shown layer and of
    the layer the shared member reuses (trace_bytes each, measured), three rankings (the indexer at both
    layers, the ideal top-k: int16 [T, depth]), the block and compressed picks (int16 [T, K]), the
    sampled every-layer ranking (int16 [L, 256, m]), the residual-stream checkpoints the traces keep
    (fp32 [T, dim] every CHECKPOINT_EVERY layers), and one member's int64 picks while it is made."""
    K, depth, L = min(k, T), cache.depth_for(min(k, T), T) or T, _layers()
    stream = L // cache.CHECKPOINT_EVERY * T * cache.load()[0].model.cfg.dim * 4
    held = 2 * trace_bytes + 3 * T * depth * 2 + 2 * T * K * 2 + L * SAMPLE_ROWS * prefix(k, T) * 2 + stream
    return held + 2 * T * K * 8


def fits(T, k, trace_bytes):
    """Whether the page's work at budget k fits in a session's share of the byte budget."""
    return working_bytes(T, k, trace_bytes) <= budget.SESSION_BYTES


def largest_k_that_fits(T, k, trace_bytes):
    """The largest power of two below k whose work fits (None: not even k = 1)."""
    smaller = [1 << i for i in range(int(k).bit_length()) if (1 << i) < k]
    return next((c for c in reversed(smaller) if fits(T, c, trace_bytes)), None)


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


@cache.budgeted(
    heavy=lambda text, layer, max_tokens, k, name, v: f"Choosing the keys of {name}",
    cost=lambda text, layer, max_tokens, *_: cache.work(cache.n_tokens(text, max_tokens)),
)
def member(text, layer, max_tokens, k, name, v, report=None):
    """The block or compressed member's picks at this layer ([T, K] int16), cached by its own parameters
    only: changing the block size never recomputes the compressed member."""
    from dsa_core.analysis import rank
    from dsa_core.family import on_text as fa
    from dsa_core.family.in_model import member_indexer

    rec = cache.trace(text, layer, max_tokens)[1]
    attached = cache.load()[0].model.layers[layer].self_attn.indexer
    indexer = member_indexer(v, layer, attached, rec.x.device)  # the member's own weights, if any
    picks = fa.member_picks(indexer, rec.x, {name: v}, k, [], layer, scores=rec.index_scores)[name]
    return rank.compact(picks, len(rec.tokens))  # [T,K]


def picks(text, layer, max_tokens, k, params):
    """Each member's picks at this layer, after the ideal top-k: {name: [T, K] int16}. The token member is
    the indexer's ranking at this layer, the shared one the same at the layer it reuses (a new r costs
    no indexer work once that layer is ranked)."""
    from dsa_core.analysis import rank
    from dsa_core.family import selectors

    T, L = len(ids(text, max_tokens)), _layers()
    out = {"ideal top-k": rank.picks(cache.ranked(text, layer, max_tokens, "ideal top-k", k=k), min(k, T))}
    for n, v in page_members(text, max_tokens, k, params).items():
        if v.name == "token" and not v.weights:
            out[n] = token_picks(text, layer, max_tokens, k)
        elif v.name == "shared" and not v.weights:
            src = selectors.share_sources(L, v.computing_layers(L))[layer]
            out[n] = token_picks(text, src, max_tokens, k)
        else:
            out[n] = member(text, layer, max_tokens, k, n, v)
    return out


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


@cache.budgeted(
    heavy="Running the model with each member",
    size=lambda _: 512,
    cost=lambda text, max_tokens, k, params: cache.work(cache.n_tokens(text, max_tokens), 5 * _layers()),
)
def perplexities(text, max_tokens, k, params, report=None):
    """Dense and each member in every layer, {name: perplexity}: five model runs, with progress after every
    layer (where a Cancel, a changed setting or a closed tab stops it). perplexities.cached(...) says
    whether they are there already (then the page shows them)."""
    from dsa_core.family import on_text as fa

    members = page_members(text, max_tokens, k, params)
    return fa.perplexities(cache.load()[0].model, ids(text, max_tokens), k, members, report)
