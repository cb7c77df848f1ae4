"""All Streamlit glue of the app: the shared sidebar and its session state, cached model loading, cached
calls into dsa_core (by text + settings, so moving the query, k or the head never re-runs the model),
figure display with PNG/SVG + CSV/JSON export, and show_source. Pages only lay out what this returns.

Nothing here is module-level mutable state: per-user state lives in st.session_state; the caches are
keyed by their inputs and their values are never modified after creation, so browser tabs can't interfere.
"""
import hashlib
import inspect
import logging
import pathlib

import streamlit as st

from dsa_core import viz
from dsa_core.text import DSAUserError
from lessons import models

ROOT = pathlib.Path(__file__).resolve().parents[1]
TEXTS = ROOT / "assets" / "texts"
SAMPLES = {"Contract (long, ~2,700 tokens)": "contract.txt", "Chat (multi-turn)": "chat.txt",
           "Article": "article.txt", "Source code": "source_code.txt"}
OWN = "Your own text"
TOKEN_LIMITS = [64, 128, 256, 512, 1024, 2048, 4096, 8192]
PER_HEAD_MAX = 2048        # above this, only the head-mean map is kept (H x T^2 floats is too much)
CHARS_PER_TOKEN_MAX = 16   # pasted text is cut to limit x 16 characters before tokenising (1 MB pastes)
log = logging.getLogger("dsa_app")

DEFAULTS = {"sample": next(iter(SAMPLES)), "max_tokens": 512, "layer": 10, "k": 64, "head": "mean of heads",
            "fig_fmt": "png", "pool": "max", "indexer_choice": "default"}


def sample_text(name):
    return (TEXTS / SAMPLES[name]).read_text(encoding="utf-8") if name in SAMPLES else ""


def _on_sample():
    if st.session_state.sample != OWN:
        st.session_state.text = sample_text(st.session_state.sample)


def init_state():
    """Fill session_state with defaults once per browser session (each tab has its own)."""
    for key, value in DEFAULTS.items():
        st.session_state.setdefault(key, value)
    st.session_state.setdefault("text", sample_text(DEFAULTS["sample"]))


def sidebar():
    """The controls every page shares (ranges from the loaded model's config). Returns the settings."""
    init_state()
    loaded, _, error = models.choose()
    cfg, name = loaded.model.cfg, loaded.name
    if error:
        st.warning(error + " (Sidebar → Model.)")
    s, sb = st.session_state, st.sidebar
    s.layer = min(max(0, int(s.layer)), cfg.n_layers - 1)           # another model may have fewer layers
    heads = ["mean of heads"] + [f"head {h}" for h in range(cfg.n_heads)]
    if s.head not in heads:
        s.head = heads[0]
    sb.selectbox("Text", list(SAMPLES) + [OWN], key="sample", on_change=_on_sample,
                 help="Bundled samples written for this project, or paste your own below.")
    sb.text_area("Text to analyse", key="text", height=140,
                 help="Paste any text. Press Ctrl+Enter (or click outside) to analyse it.")
    sb.select_slider("Token limit", TOKEN_LIMITS, key="max_tokens",
                     help=f"Longer texts are cut to this many tokens (the model's context is {cfg.max_seq_len:,}).")
    sb.slider("Layer", 0, cfg.n_layers - 1, key="layer", help=f"Which of {name}'s {cfg.n_layers} layers to look at.")
    sb.number_input("k: tokens kept per query (top-k selection)", min_value=0, max_value=max(TOKEN_LIMITS),
                    step=16, key="k",
                    help="DSA's budget: each query attends only to the k keys its indexer scores highest. "
                         "This is top-k *selection* of keys, not top-k *sampling* of output words.")
    sb.selectbox("Attention head", heads, key="head",
                 help=f"Dense attention of one head, or the mean of the {cfg.n_heads} heads (what the indexer learns).")
    with sb.expander("Display"):
        st.radio("Pooling for long texts", ["max", "mean"], key="pool", horizontal=True,
                 help="Maps above 192 x 192 cells are pooled into blocks: max keeps single strong cells "
                      "visible, mean shows the block average.")
        st.radio("Figure download format (camera button)", ["png", "svg"], key="fig_fmt", horizontal=True)
    models.sidebar_input(sb, error)
    return current()


def current():
    """The shared settings from session_state (set by the sidebar that app.py draws on every page)."""
    init_state()
    s = st.session_state
    head = None if s.head == "mean of heads" else int(s.head.split()[-1])
    return {"text": s.text, "max_tokens": int(s.max_tokens), "layer": int(s.layer), "k": int(s.k or 0),
            "head": head}


# ---------------------------------------------------------------- model and cached dsa_core calls
def load():
    """(LoadedModel with one lightning indexer per layer, a sentence saying which indexers): this
    session's model (lessons/models.py: the embedded SmolLM2-135M or a local folder)."""
    return models.load()


def model_info():
    """(name, n_layers, n_heads, max_seq_len) of this session's model, for the pages' sentences."""
    loaded = load()[0]
    cfg = loaded.model.cfg
    return {"name": loaded.name, "n_layers": cfg.n_layers, "n_heads": cfg.n_heads, "max_seq_len": cfg.max_seq_len}


def text_key(text):
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def precut(text, max_tokens):
    """Text cut to max_tokens x 16 characters: huge pastes never reach the tokenizer whole."""
    return text[:max_tokens * CHARS_PER_TOKEN_MAX]


@models.per_model(max_entries=4)
def trace(text, layer, max_tokens):
    """(PreparedText, LayerTrace) of one layer: the only call that runs the model for a page view."""
    from dsa_core.trace import trace_layers
    loaded, _ = load()
    prep, recs = trace_layers(loaded, text, [layer], max_tokens=max_tokens, per_head=max_tokens <= PER_HEAD_MAX)
    return prep, recs[layer]


@models.per_model(max_entries=16)
def ranked(text, layer, max_tokens, which, head, m):
    """One selection ranked once ([T, m] picks, best first): every k <= m is a slice of it (no T x T pass).
    head matters only for the ideal top-k."""
    from dsa_core.viz import ranked as rk
    return rk.rank(trace(text, layer, max_tokens)[1], which, m, head)


@models.per_model(max_entries=4)
def ranked_heads(text, layer, max_tokens, m):
    """The ideal top-k of every head, ranked once per text ([H, T, m] or None): a head change is a slice."""
    from dsa_core.viz import ranked as rk
    return rk.rank_heads(trace(text, layer, max_tokens)[1], m)


@st.cache_resource(max_entries=4, show_spinner=False)
def ranked_random(T, m):
    """The random baseline ranked once per length (it does not depend on the text)."""
    from dsa_core.viz import ranked as rk
    return rk.ranked_random(T, m)


def picks(text, layer, max_tokens, k, head=None):
    """Every selection at budget k (indexer, ideal of this head, window, random) as slices: O(T·k)."""
    from dsa_core.viz import ranked as rk
    T = len(trace(text, layer, max_tokens)[1].tokens)
    k = min(max(1, k), T)
    m = rk.bucket(k, T)
    heads = ranked_heads(text, layer, max_tokens, m)      # all heads now, with the new text
    ideal = heads[head] if head is not None and heads is not None else \
        ranked(text, layer, max_tokens, "ideal top-k", head, m)
    ranks = {"DSA indexer": ranked(text, layer, max_tokens, "DSA indexer", None, m),
             "ideal top-k": ideal,
             "random": ranked_random(T, m)}
    return rk.picks_from(ranks, T, k)


@models.per_model(max_entries=24)
def view(text, layer, max_tokens, k, head):
    from dsa_core.viz import views
    return views.layer_view(trace(text, layer, max_tokens)[1], k, head, picks=picks(text, layer, max_tokens, k, head))


@models.per_model(max_entries=8)
def base_maps(text, layer, max_tokens, head, how, zoom):
    """Index scores and dense attention, pooled (or zoomed) once per setting: they do not depend on k."""
    from dsa_core.viz import ranked as rk
    return rk.base_maps(trace(text, layer, max_tokens)[1], head, how, zoom, viz.GRID_SIDE)


@models.per_model(max_entries=24)
def maps(text, layer, max_tokens, k, head, how, zoom):
    """The six maps; those that depend on k are pooled straight from the [T, k] picks (O(T·k))."""
    from dsa_core.viz import ranked as rk
    return rk.pick_maps(view(text, layer, max_tokens, k, head), base_maps(text, layer, max_tokens, head, how, zoom),
                        how, zoom, viz.GRID_SIDE)


@models.per_model(max_entries=4)
def layer_values(text, layer, max_tokens):
    """(value vectors [T,H_kv,D], dense output of the last 128 queries): k-independent, once per text."""
    from dsa_core.viz import views
    rec, model = trace(text, layer, max_tokens)[1], load()[0].model
    v, T = views.layer_values(model, rec), len(rec.tokens)
    return v, views.dense_output(model, rec, max(0, T - 128), T, v)


@models.per_model(max_entries=64)
def output_change(text, layer, max_tokens, k, query=None):
    """Output change of this layer at one query, or (query=None) its mean over the last 128 queries."""
    from dsa_core.viz import ranked as rk
    from dsa_core.viz import views
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
    from dsa_core.model import dsa_select
    from dsa_core.viz import views
    from dsa_core.trace import encode
    ids = encode(load()[0], text, max_tokens).ids
    return views.next_token_effect(load()[0].model, ids, k, dsa_select(k))


def indexer(layer):
    """The lightning indexer attached to this layer (read-only)."""
    return load()[0].model.layers[layer].self_attn.indexer


@models.per_model(max_entries=16)
def head_votes(text, layer, max_tokens, query):
    from dsa_core.viz import steps
    return steps.head_votes(indexer(layer), trace(text, layer, max_tokens)[1].x, query)


@models.per_model(max_entries=16)
def indexer_vs_target(text, layer, max_tokens, query):
    from dsa_core.viz import steps
    return steps.indexer_vs_target(trace(text, layer, max_tokens)[1], query)


@models.per_model(max_entries=4)
def kl_per_query(text, layer, max_tokens):
    from dsa_core.viz import steps
    return steps.kl_per_query(trace(text, layer, max_tokens)[1])


@models.per_model(max_entries=8)
def fp8_agreement(text, layer, max_tokens, k):
    from dsa_core.viz import steps
    return steps.fp8_agreement(indexer(layer), trace(text, layer, max_tokens)[1].x, k)


def corpus_text():
    """All bundled samples, one after the other (the Train page's 'bundled corpus')."""
    return "\n\n".join(sample_text(name) for name in SAMPLES)


def start_training(text, layer, max_tokens, k, steps, lr, n_queries, fresh=True):
    """(the starting indexer, a private copy that trains, the dsa_core stage-1 generator training it) on the
    trace's x. Starts from fresh random weights or from the model's own indexer; the copies live in this
    session only: the shared model's indexers are never modified."""
    import copy

    from dsa_core.train_indexer import fresh_copy, train_indexers
    rec = trace(text, layer, max_tokens)[1]
    start = fresh_copy(indexer(layer), seed=layer) if fresh else indexer(layer)
    mine = copy.deepcopy(start)
    T = len(rec.tokens)
    gen = train_indexers(load()[0].model, {layer: mine}, {layer: rec.x[None]}, steps=steps, lr=lr, batch_size=1,
                         n_queries=min(n_queries, T), topk=k, log_every=max(1, steps // 25))
    return start, mine, gen


def view_with(text, layer, max_tokens, k, head, indexer_module):
    """LayerView of the trace scored by a session's own indexer (not cached: it changes while training)."""
    from dsa_core.viz import views
    return views.layer_view(views.with_indexer(trace(text, layer, max_tokens)[1], indexer_module), k, head)


def analyse(settings, spinner=True):
    """Run (or fetch from cache) the trace for the sidebar settings. Returns a dict for the pages, or
    shows a clear message and stops the page on bad input (never a traceback)."""
    full = settings["text"] or ""
    text = precut(full, settings["max_tokens"])
    if not text.strip():
        st.info("The text box is empty. Pick a sample in the sidebar or paste some text to analyse.")
        st.stop()
    try:
        with st.spinner(f"Running {load()[0].name} up to layer {settings['layer']} on up to "
                        f"{settings['max_tokens']:,} tokens…") if spinner else _null():
            prep, rec = trace(text, settings["layer"], settings["max_tokens"])
    except DSAUserError as e:
        st.error(f"**{e.problem}** {e.fix}")
        st.stop()
    except Exception as e:  # noqa: BLE001 - shown as a message; the traceback goes to the server log
        log.exception("analysis failed")
        st.error(f"The analysis failed: {type(e).__name__}: {e}. Try a shorter or different text.")
        st.stop()
    T = len(prep.ids)
    notes = [n for n in prep.notes if not n.startswith("cut ")]
    if prep.n_cut or len(text) < len(full):
        notes.insert(0, f"The text is longer than the token limit: only its first {T:,} tokens are analysed "
                        f"({len(prep.text):,} of {len(full):,} characters, {len(prep.text) / len(full):.0%}). "
                        f"Raise the token limit in the sidebar to see more (up to {max(TOKEN_LIMITS):,}).")
    k_asked = settings["k"]
    k = min(max(1, k_asked), T)
    if k_asked <= 0:
        notes.append("k = 0 would keep no token at all (attention over nothing is undefined): using k = 1.")
    elif k_asked >= T:
        notes.append(f"k = {k_asked} is at least the text length ({T} tokens): every query keeps all its "
                     f"visible tokens, so DSA equals dense attention here. Lower k to see a difference.")
    head = settings["head"] if rec.dense_probs is not None else None
    if settings["head"] is not None and head is None:
        notes.append(f"Per-head maps are kept only up to {PER_HEAD_MAX:,} tokens: showing the mean of heads.")
    return {"text": text, "prep": prep, "rec": rec, "T": T, "k": k, "head": head, "notes": notes,
            "layer": settings["layer"], "max_tokens": settings["max_tokens"], "indexer": load()[1],
            "model": model_info()}


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def show_notes(a):
    for note in a["notes"]:
        st.warning(note)


# ---------------------------------------------------------------- display helpers
def show_figure(fig, name, key=None, alt=None, **kwargs):
    """st.plotly_chart with the modebar download (PNG or SVG) plus CSV and JSON of the figure's numbers."""
    fmt = st.session_state.get("fig_fmt", "png")
    event = st.plotly_chart(fig, config=viz.export_config(f"dsa-{name}", fmt), key=key, **kwargs)
    row = st.container(horizontal=True)
    row.download_button("CSV", lambda: viz.figure_csv(fig), f"dsa-{name}.csv", "text/csv",
                       key=f"csv-{key or name}", on_click="ignore", icon=":material/download:")
    row.download_button("JSON", lambda: viz.figure_json(fig), f"dsa-{name}.json", "application/json",
                       key=f"json-{key or name}", on_click="ignore", icon=":material/download:")
    return event


def query_from_click(key):
    """on_select callback for a plotly chart: the clicked point's position (token grid: customdata;
    maps: the row, i.e. the query; pooled maps: the first query of the block) becomes the query."""
    def pick():
        points = st.session_state[key].selection.points
        if points:
            p = points[0]
            pos = p.get("customdata", p.get("y"))
            if isinstance(pos, (list, tuple)):
                pos = pos[0]
            if pos is not None:
                st.session_state.query = int(round(float(pos)))
    return pick


def show_source(fn, label=None):
    """The real source of the dsa_core function that produced a figure (inspect.getsource, never pasted)."""
    name = f"{fn.__module__}.{fn.__qualname__}"
    with st.expander(label or f"Source: `{name}`"):
        st.code(inspect.getsource(fn), language="python")
