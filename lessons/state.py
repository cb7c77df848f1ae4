"""The app's shared sidebar and its session state: samples, settings, and analyse(), which turns the
sidebar's settings into one analysed text for a page (or a clear message, never a traceback).

Per-user state lives in st.session_state, so browser tabs can't interfere.
"""

import hashlib
import logging
import pathlib
from contextlib import nullcontext

import streamlit as st

from dsa_core.host.text import DSAUserError
from lessons import cache, models

ROOT = pathlib.Path(__file__).resolve().parents[1]
TEXTS = ROOT / "assets" / "texts"
SAMPLES = {
    "Contract (long, ~2,700 tokens)": "contract.txt",
    "Chat (multi-turn)": "chat.txt",
    "Article": "article.txt",
    "Source code": "source_code.txt",
}
OWN = "Your own text"
TOKEN_LIMITS = [64, 128, 256, 512, 1024, 2048, 4096, 8192]
CHARS_PER_TOKEN_MAX = 16  # pasted text is cut to limit x 16 characters before tokenising (1 MB pastes)
log = logging.getLogger("dsa_app")
DEFAULTS = {
    "sample": next(iter(SAMPLES)),
    "max_tokens": 512,
    "layer": 10,
    "k": 64,
    "head": "mean of heads",
    "fig_fmt": "png",
    "pool": "max",
    "indexer_choice": "default",
}


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
    s.layer = min(max(0, int(s.layer)), cfg.n_layers - 1)  # another model may have fewer layers
    heads = ["mean of heads"] + [f"head {h}" for h in range(cfg.n_heads)]
    if s.head not in heads:
        s.head = heads[0]
    sb.selectbox(
        "Text",
        list(SAMPLES) + [OWN],
        key="sample",
        on_change=_on_sample,
        help="Bundled samples written for this project, or paste your own below.",
    )
    sb.text_area(
        "Text to analyse",
        key="text",
        height=140,
        help="Paste any text. Press Ctrl+Enter (or click outside) to analyse it.",
    )
    sb.select_slider(
        "Token limit",
        TOKEN_LIMITS,
        key="max_tokens",
        help=f"Longer texts are cut to this many tokens (the model's context is {cfg.max_seq_len:,}).",
    )
    sb.slider(
        "Layer", 0, cfg.n_layers - 1, key="layer", help=f"Which of {name}'s {cfg.n_layers} layers to look at."
    )
    sb.number_input(
        "k: tokens kept per query (top-k selection)",
        min_value=0,
        max_value=max(TOKEN_LIMITS),
        step=16,
        key="k",
        help="DSA's budget: each query attends only to the k keys its indexer scores highest. "
        "This is top-k *selection* of keys, not top-k *sampling* of output words.",
    )
    sb.selectbox(
        "Attention head",
        heads,
        key="head",
        help=f"Dense attention of one head, or the mean of the {cfg.n_heads} heads (what the indexer learns).",
    )
    with sb.expander("Display"):
        st.radio(
            "Pooling for long texts",
            ["max", "mean"],
            key="pool",
            horizontal=True,
            help="Maps above 192 x 192 cells are pooled into blocks: max keeps single strong cells "
            "visible, mean shows the block average.",
        )
        st.radio("Figure download format (camera button)", ["png", "svg"], key="fig_fmt", horizontal=True)
    models.sidebar_input(sb, error)
    return current()


def current():
    """The shared settings from session_state (set by the sidebar that app.py draws on every page)."""
    init_state()
    s = st.session_state
    head = None if s.head == "mean of heads" else int(s.head.split()[-1])
    return {
        "text": s.text,
        "max_tokens": int(s.max_tokens),
        "layer": int(s.layer),
        "k": int(s.k or 0),
        "head": head,
    }


def text_key(text):
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def precut(text, max_tokens):
    """Text cut to max_tokens x 16 characters: huge pastes never reach the tokenizer whole."""
    return text[: max_tokens * CHARS_PER_TOKEN_MAX]


def corpus_text():
    """All bundled samples, one after the other (the Train page's 'bundled corpus')."""
    return "\n\n".join(sample_text(name) for name in SAMPLES)


def analyse(settings, spinner=True):
    """Run (or fetch from cache) the trace for the sidebar settings. Returns a dict for the pages, or
    shows a clear message and stops the page on bad input (never a traceback)."""
    full = settings["text"] or ""
    text = precut(full, settings["max_tokens"])
    if not text.strip():
        st.info("The text box is empty. Pick a sample in the sidebar or paste some text to analyse.")
        st.stop()
    try:
        with (
            st.spinner(
                f"Running {cache.load()[0].name} up to layer {settings['layer']} on up to "
                f"{settings['max_tokens']:,} tokens…"
            )
            if spinner
            else nullcontext()
        ):
            prep, rec = cache.trace(text, settings["layer"], settings["max_tokens"])
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
        notes.insert(
            0,
            f"The text is longer than the token limit: only its first {T:,} tokens are analysed "
            f"({len(prep.text):,} of {len(full):,} characters, {len(prep.text) / len(full):.0%}). "
            f"Raise the token limit in the sidebar to see more (up to {max(TOKEN_LIMITS):,}).",
        )
    k_asked = settings["k"]
    k = min(max(1, k_asked), T)
    if k_asked <= 0:
        notes.append("k = 0 would keep no token at all (attention over nothing is undefined): using k = 1.")
    elif k_asked >= T:
        notes.append(
            f"k = {k_asked} is at least the text length ({T} tokens): every query keeps all its "
            f"visible tokens, so DSA equals dense attention here. Lower k to see a difference."
        )
    head = settings["head"] if rec.dense_probs is not None else None
    if settings["head"] is not None and head is None:
        notes.append(
            f"Per-head maps are kept only up to {cache.PER_HEAD_MAX:,} tokens: showing the mean of heads."
        )
    return {
        "text": text,
        "prep": prep,
        "rec": rec,
        "T": T,
        "k": k,
        "head": head,
        "notes": notes,
        "layer": settings["layer"],
        "max_tokens": settings["max_tokens"],
        "indexer": cache.load()[1],
        "model": cache.model_info(),
    }


def show_notes(a):
    for note in a["notes"]:
        st.warning(note)
