"""Cached calls into dsa_core, keyed by text + settings, so moving the query, k or the head never re-runs
the model. No algorithm lives here: each function routes its inputs to one dsa_core call.

Large results live in one byte-budgeted cache shared by all sessions (lessons/budget.py: 2 GB in all,
1.2 GB made by one session, entries of closed tabs dropped). Per text and layer it holds the trace and
the full rankings (any k is a slice of them); per k only [T]-sized numbers and pooled maps. Heavy work
(a model run, a ranking) waits its turn in a fair queue and shows a progress bar; a changed setting, a
page switch or a closed tab stops it at the next progress update. Cached values are never modified
after creation, so browser tabs can't interfere.
"""

import contextlib
import functools
import threading
import time

import streamlit as st

from dsa_core import viz
from lessons import budget, models

PER_HEAD_MAX = 2048  # above this, only the head-mean map is kept (H x T^2 floats is too much)
# Rankings keep this many picks per row until a larger k is asked for. The first is 1,024, not smaller:
# ranking an 8,192-token layer to depth 1,024 took 2.9-4.8 s against 1.6-2.4 s to depth 256 (2 cores,
# load 6-7: analysis.rank.rank_scores), and every k up to 1,024 is then a slice (a shallower first
# ranking re-ranked the whole layer, indexer and ideal top-k, the first time k passed it).
RANK_DEPTHS = (1024, 2048)
CHECKPOINT_EVERY = 4  # keep the residual stream entering layers 4, 8, 12, ... of each analysed text
_held = threading.local()  # this thread holds the heavy-work slot (nested heavy calls don't queue again)


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


@st.cache_resource
def shared():
    """(Budget, Queue) of this server process, and the janitor thread that empties closed tabs' entries."""
    cache, queue = budget.Budget(), budget.Queue()
    budget.fix_mmap_threshold()
    budget.janitor(cache)
    return cache, queue


def _session():
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    return ctx.session_id if ctx is not None else "script"


def work(tokens, layers=1):
    """The queue's estimate of a job's size: tokens² × layers run (budget.LONG_WORK and above: long)."""
    return int(tokens) ** 2 * int(layers)


def n_tokens(text, max_tokens):
    """How many tokens of the text are analysed (for the queue's estimate of a job's size)."""
    from dsa_core.analysis.trace import encode

    return len(encode(load()[0], text, max_tokens).ids)


@contextlib.contextmanager
def _turn(label, size=0):
    """Wait for this session's turn at heavy work of this size (work()), in the queue's short or long
    lane, saying what is ahead (a Streamlit call every 0.5 s, so leaving the page or closing the tab
    ends the wait)."""
    if getattr(_held, "on", False):
        yield
        return
    queue = shared()[1]
    ticket, note = queue.join(size), None
    try:
        while queue.ahead(ticket) > 0:
            note = note or st.empty()
            note.info(queue.note(ticket, label))
            queue.wait(ticket, 0.5)
        if note is not None:
            note.empty()
        _held.on = True
        yield
    finally:
        _held.on = False
        queue.leave(ticket)


@contextlib.contextmanager
def _progress(label):
    """A progress bar; report(fraction, message) updates it at most 5 times a second (each update is
    also where Streamlit stops abandoned work)."""
    bar, last = st.progress(0.0, text=f"{label}…"), [0.0]

    def report(fraction, message=""):
        now = time.monotonic()
        if now - last[0] >= 0.2 or fraction >= 1:
            last[0] = now
            bar.progress(
                min(1.0, max(0.0, float(fraction))), text=f"{label}: {message}" if message else label
            )

    try:
        yield report
    finally:
        with contextlib.suppress(Exception):
            bar.empty()


def _key(name, args):
    return (name, models.model_source(), *args)


@contextlib.contextmanager
def queued(label, size=0):
    """Heavy work that is not cached (a timing run): wait for the turn in the queue, then a progress
    bar; yields report(fraction, message), where Streamlit also stops abandoned work."""
    with _turn(label, size), _progress(label) as report:
        yield report


def _cached(name, args, compute, heavy=None, size=None, cost=lambda: 0, progress=True):
    """compute(report) once per (name, model, args) in the byte budget. heavy: a label; then the work
    queues for its turn (cost: its work(), which picks the queue's lane) and shows progress (report
    is None for light work, and for heavy work without a progress bar)."""
    cache, key, sid = shared()[0], _key(name, args), _session()
    hit = cache.get(key, sid)
    if hit is not None:
        return hit.value
    if heavy is None:
        value = compute(None)
    else:
        with _turn(heavy, cost()):
            hit = cache.get(key, sid)  # another student may have made it while this one waited
            if hit is not None:
                return hit.value
            if progress:
                with _progress(heavy) as report:
                    value = compute(report)
            else:
                value = compute(None)
    return cache.put(key, value, sid, None if size is None else size(value))


def budgeted(heavy=None, size=None, cost=None, progress=True):
    """The app's one cache, as a decorator: f(*args) is computed once per (f, this session's model, args)
    and kept in the byte budget all sessions share (least recently used first out; a closed tab's
    entries dropped). heavy: a label, or a function of f's arguments giving one: the work then waits
    its turn in the fair queue, shows a progress bar, and f gets report=(fraction, message), where
    Streamlit also stops abandoned work. cost: a function of f's arguments giving its work() (long
    jobs wait in their own lane; default: short). size: the value's bytes, when counting its tensors
    would miss them. progress=False: heavy work that only waits its turn (no progress bar, no report):
    quick alone, but its transient memory (blocks of a [T, k] selection) times ten students at once is
    what the queue bounds. f.cached(*args) says whether the value is there already (no work, no waiting)."""

    def wrap(fn):
        name = fn.__qualname__

        @functools.wraps(fn)
        def call(*args):
            if heavy is None:
                return _cached(name, args, lambda _: fn(*args), None, size)
            label = heavy(*args) if callable(heavy) else heavy
            lane = (lambda: cost(*args)) if cost else (lambda: 0)  # estimated only when computed
            run = (lambda report: fn(*args, report=report)) if progress else (lambda _: fn(*args))
            return _cached(name, args, run, label, size, lane, progress)

        call.cached = lambda *args: shared()[0].get(_key(name, args), _session()) is not None
        return call

    return wrap


def forget_text(text):
    """Drop the cached results of this text that no other session uses (a student's "Forget this
    text")."""
    dropped = shared()[0].forget(_session(), lambda key: text in key)
    if dropped:
        budget.give_back_memory()
    return dropped


def _checkpoints(text, max_tokens):
    """The residual-stream checkpoints saved so far for this text ({layer: h [1,T,dim]}; may be empty)."""
    hit = shared()[0].get(_key("stream", (text, max_tokens)), _session())
    return hit.value if hit is not None else {}


def _keep_checkpoints(text, max_tokens, save):
    """Add the checkpoints a run saved ({layer: h or None}) to the text's entry."""
    new = {l: h for l, h in save.items() if h is not None}
    if new:  # cached values are never modified: a new dict replaces the old one
        stream = {**_checkpoints(text, max_tokens), **new}
        shared()[0].put(_key("stream", (text, max_tokens)), stream, _session())


@budgeted(
    heavy=lambda text, layer, max_tokens: f"Analysing layer {layer} of the text",
    cost=lambda text, layer, max_tokens: work(n_tokens(text, max_tokens), layer + 1),
)
def trace(text, layer, max_tokens, report=None):
    """(PreparedText, LayerTrace) of one layer: the only call that runs the model for a page view.
    The residual stream entering every CHECKPOINT_EVERY-th layer is kept (budgeted like the rest,
    19 MB each at 8,192 tokens), so another layer of the same text starts from the nearest one below."""
    from dsa_core.analysis.trace import trace_layers

    have = _checkpoints(text, max_tokens)
    below = [l for l in have if l <= layer]
    resume = (max(below), have[max(below)]) if below else None
    save = {l: None for l in range(CHECKPOINT_EVERY, layer + 1, CHECKPOINT_EVERY) if l not in have}
    prep, recs = trace_layers(
        load()[0],
        text,
        [layer],
        max_tokens=max_tokens,
        per_head=max_tokens <= PER_HEAD_MAX,
        reselect=False,
        progress=report,
        resume=resume,
        save=save,
        keep_index_map=max_tokens <= PER_HEAD_MAX,  # long texts: index rows recomputed from x
    )
    _keep_checkpoints(text, max_tokens, save)
    return prep, recs[layer]


def _depth(ranking, args, k, T):
    """How deep a ranking must go for budget k: the shallowest of RANK_DEPTHS that holds k (a [T, 1024]
    int16 ranking is 17 MB at 8,192 tokens, [T, 2048] 34 MB), the whole row (134 MB, None) above them.
    A deeper ranking already in the cache serves a smaller k too, so it is used instead."""
    needed = [d for d in RANK_DEPTHS if k is not None and k <= d < T] + [None]
    return next((d for d in needed if ranking.cached(*args, d)), needed[0])


def depth_for(k, T):
    """The shallowest ranking depth that holds budget k (None: the whole row); _depth may serve k from a
    deeper ranking already cached, which runs the same top-k (analysis.rank.topk_fn)."""
    return next((d for d in RANK_DEPTHS if k <= d < T), None)


def ranked(text, layer, max_tokens, which, head=None, k=None):
    """One selection ranked ([T, depth] positions, best first): every k up to the depth is a slice of it.
    which: "DSA indexer" or "ideal top-k" (head matters only for the latter). k=None: the whole row."""
    rec = trace(text, layer, max_tokens)[1]
    head = None if which == "DSA indexer" or rec.dense_probs is None else head
    args = (text, layer, max_tokens, which, head)
    return _ranked(*args, _depth(_ranked, args, k, len(rec.tokens)))


@budgeted(
    heavy=lambda text, layer, max_tokens, which, head, depth: f"Ranking the keys ({which})",
    cost=lambda text, layer, max_tokens, *_: work(n_tokens(text, max_tokens)),
)
def _ranked(text, layer, max_tokens, which, head, depth, report=None):
    from dsa_core.analysis import numbers as nb
    from dsa_core.analysis import rank as rk

    rec = trace(text, layer, max_tokens)[1]
    if which == "DSA indexer":
        return rk.rank_index(rec, report, depth=depth)
    return rk.rank_oracle(nb.dense_of(rec, head), report, depth=depth)


def ranked_random(T, k=None):
    """The random baseline ranked once per length (it does not depend on the text)."""
    return _ranked_random(T, _depth(_ranked_random, (T,), k, T))


@budgeted(heavy="Ranking the random baseline")
def _ranked_random(T, depth, report=None):
    from dsa_core.analysis import rank as rk

    return rk.rank_random(T, 0, report, depth=depth)


def ranks(text, layer, max_tokens, head=None, k=None):
    """Every ranked selection a view at budget k needs (indexer, ideal top-k of this head, random)."""
    T = len(trace(text, layer, max_tokens)[1].tokens)
    return {
        "DSA indexer": ranked(text, layer, max_tokens, "DSA indexer", k=k),
        "ideal top-k": ranked(text, layer, max_tokens, "ideal top-k", head, k=k),
        "random": ranked_random(T, k),
    }


def view(text, layer, max_tokens, k, head):
    """LayerView at budget k: picks sliced from the rankings; recall, overlap and counts ([T] each) are
    cached, the view itself is assembled on every call (so no cache entry keeps an old trace alive)."""
    from dsa_core.analysis import numbers as nb

    rec = trace(text, layer, max_tokens)[1]
    head = None if rec.dense_probs is None else head
    r = ranks(text, layer, max_tokens, head, k)
    numbers = _view_numbers(text, layer, max_tokens, k, head)
    return nb.layer_view(rec, k, head, ranks=r, sparse=False, numbers=numbers)


@budgeted(heavy="Computing this view's numbers", progress=False)
def _view_numbers(text, layer, max_tokens, k, head):
    from dsa_core.analysis import numbers as nb

    rec = trace(text, layer, max_tokens)[1]
    return nb.layer_numbers(rec, k, head, ranks(text, layer, max_tokens, head, k))


@budgeted(heavy="Pooling the maps", progress=False)
def base_maps(text, layer, max_tokens, head, how, zoom):
    """Index scores and dense attention, pooled (or zoomed) once per setting: they do not depend on k."""
    from dsa_core.analysis import maps as mp

    return mp.base_maps(trace(text, layer, max_tokens)[1], head, how, zoom, viz.GRID_SIDE)


def maps(text, layer, max_tokens, k, head, how, zoom):
    """The six maps; those that depend on k are pooled from the [T, k] picks, a block of rows at a time."""
    return _maps(text, layer, max_tokens, k, view(text, layer, max_tokens, k, head).head, how, zoom)


@budgeted(heavy="Pooling the maps", progress=False)
def _maps(text, layer, max_tokens, k, head, how, zoom):
    from dsa_core.analysis import maps as mp

    rec, v = trace(text, layer, max_tokens)[1], view(text, layer, max_tokens, k, head)
    base = base_maps(text, layer, max_tokens, head, how, zoom)
    return mp.pick_maps(rec, v, base, how, zoom, viz.GRID_SIDE)


@budgeted()
def layer_values(text, layer, max_tokens):
    """(value vectors [T,H_kv,D], dense output of the last 128 queries): k-independent, once per text."""
    from dsa_core.analysis import effects

    rec, model = trace(text, layer, max_tokens)[1], load()[0].model
    v, T = effects.layer_values(model, rec), len(rec.tokens)
    return v, effects.dense_output(model, rec, max(0, T - 128), T, v)


@budgeted(size=lambda _: 64)
def output_change(text, layer, max_tokens, k, query=None):
    """Output change of this layer at one query, or (query=None) its mean over the last 128 queries."""
    from dsa_core.analysis import effects
    from dsa_core.analysis import rank as rk

    rec = trace(text, layer, max_tokens)[1]
    T = len(rec.tokens)
    s0, s1 = (query, query + 1) if query is not None else (max(0, T - 128), T)
    v, dense_tail = layer_values(text, layer, max_tokens)
    idx = rk.picks(ranked(text, layer, max_tokens, "DSA indexer", k=k), min(max(1, k), T))
    out = effects.output_change(load()[0].model, rec, idx, s0, s1, v, dense_tail if query is None else None)
    return float(out.mean())


@budgeted(
    heavy="Running the model twice",
    cost=lambda text, max_tokens, k: work(n_tokens(text, max_tokens), 2 * model_info()["n_layers"]),
)
def next_token_effect(text, max_tokens, k, report=None):
    """DSA in every layer vs dense (two full model runs, with progress; stopped by a rerun or Cancel)."""
    from dsa_core.analysis import effects
    from dsa_core.analysis.trace import encode
    from dsa_core.host.selects import dsa_select

    ids = encode(load()[0], text, max_tokens).ids
    have, L = _checkpoints(text, max_tokens), len(load()[0].model.layers)
    resume = (max(have), have[max(have)]) if have else None  # the dense run starts there
    save = {l: None for l in range(CHECKPOINT_EVERY, L, CHECKPOINT_EVERY) if l not in have}
    out = effects.next_token_effect(
        load()[0].model, ids, k, dsa_select(k, fast=True), progress=report, resume=resume, save=save
    )
    _keep_checkpoints(text, max_tokens, save)  # every layer of this text is now near a checkpoint
    return out


def indexer(layer):
    """The lightning indexer attached to this layer (read-only)."""
    return load()[0].model.layers[layer].self_attn.indexer


@budgeted()
def head_votes(text, layer, max_tokens, query):
    from dsa_core.analysis import numbers as nb

    return nb.head_votes(indexer(layer), trace(text, layer, max_tokens)[1].x, query)


@budgeted()
def indexer_vs_target(text, layer, max_tokens, query):
    from dsa_core.analysis import numbers as nb

    return nb.indexer_vs_target(trace(text, layer, max_tokens)[1], query)


@budgeted()
def kl_per_query(text, layer, max_tokens):
    from dsa_core.analysis import numbers as nb

    return nb.kl_per_query(trace(text, layer, max_tokens)[1])


@budgeted()
def fp8_agreement(text, layer, max_tokens, k):
    from dsa_core.analysis import numbers as nb

    return nb.fp8_agreement(indexer(layer), trace(text, layer, max_tokens)[1].x, k)


def training_work(T, steps, n_queries):
    """The queue's size of a training run (work() units): each step scores up to n_queries queries
    against up to T keys in one layer, forward and backward, about 3 x n_queries x T. 400 steps of 128
    queries at 8,192 tokens wait in the long lane; the page's default 60 steps at 512 tokens are short."""
    return work(T, 3 * steps) * min(n_queries, T) // max(1, T)


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
    from dsa_core.analysis import effects
    from dsa_core.analysis import numbers as nb
    from dsa_core.analysis import rank as rk

    rec = effects.with_indexer(trace(text, layer, max_tokens)[1], indexer_module)
    T = len(rec.tokens)
    own = rk.rank_scores(rec.index_scores, depth=depth_for(k, T))
    r = {**ranks(text, layer, max_tokens, head, k), "DSA indexer": own}
    return nb.layer_view(rec, k, head, ranks=r, sparse=False)
