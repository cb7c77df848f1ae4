"""The app's shared sidebar and its session state: samples, settings, and analyse(), which turns the
sidebar's settings into one analysed text for a page (or a clear message, never a traceback).

Per-user state lives in st.session_state, so browser tabs can't interfere.
"""

import hashlib
import logging
import os
import pathlib
from contextlib import nullcontext

import streamlit as st

from dsa_core.host.text import DSAUserError
from lessons import cache, keys, links, models

ROOT = pathlib.Path(__file__).resolve().parents[1]
TEXTS = ROOT / "assets" / "texts"
SAMPLES, OWN, TOKEN_LIMITS = keys.SAMPLES, keys.OWN, keys.TOKEN_LIMITS  # declared in lessons/keys.py
CHARS_PER_TOKEN_MAX = 16  # pasted text is cut to limit x 16 characters before tokenising (1 MB pastes)
log = logging.getLogger("dsa_app")


def sample_text(name):
    return (TEXTS / SAMPLES[name]).read_text(encoding="utf-8") if name in SAMPLES else ""


def _on_sample():
    """Picking a sample never loses the user's text: it stays in own_text, and "Your text" brings it back."""
    s = st.session_state
    s.text = s.get("own_text", "") if s.sample == OWN else sample_text(s.sample)


def _on_text():
    """An edited text is the user's own: the selector says "Your text" and keeps it."""
    s = st.session_state
    if s.sample == OWN or s.text != sample_text(s.sample):
        s.sample, s.own_text = OWN, s.text


def _forget():
    """ "Forget this text": off this server's links and caches (where no one else uses it), out of this
    tab; the sidebar goes back to the first sample."""
    s = st.session_state
    for text in {s.get("text") or "", s.get("own_text") or ""} - {""}:
        links.drop(text)
        cache.forget_text(text)
    s.own_text, s.text_shared, s.text_forgotten = "", False, True
    s.sample = keys.KEYS["sample"].default
    s.text = sample_text(s.sample)


def _share():
    links.share(st.session_state.text)


def init_state():
    """Fill session_state with the registry's defaults once per browser session (each tab has its own);
    the first run of a session restores the view in the link it was opened with (lessons/links.py)."""
    s = st.session_state
    if s.get("sample") == "Your own text":  # the selector's old name (kept for scripts that set it)
        s.sample = OWN
    keys.init()
    keys.ensure("text", sample_text)
    if s.sample == OWN and not s.own_text:
        s.own_text = s.text
    if "link_notes" not in s:
        s.link_notes = links.read(sample_text)


def _text_privacy(sb):
    """Under the text box: who can open this text by a link, and the controls to share or forget it."""
    s = st.session_state
    own = s.sample == OWN and (s.text or "").strip()
    if s.pop("text_forgotten", False):
        sb.success("The text is forgotten: it is off this server's links and caches, and out of this tab.")
    if not own:
        return
    if links.class_mode():
        if links.shared(s.text):
            sb.caption(
                "Shared: anyone with this page's link can open this text on this server, until you "
                "forget it or the server restarts."
            )
        else:
            sb.caption(
                "Private to this tab: its link does not carry your text. Reloading the page forgets it."
            )
            sb.button("Share this text with a link", key="share_text", on_click=_share)
    sb.button(
        "Forget this text",
        key="forget_text",
        on_click=_forget,
        help="Takes your text off this server's links and cached results and out of this tab.",
    )


def sidebar(link_box=True):
    """The controls every page shares (ranges from the loaded model's config). Returns the settings.
    link_box=False: the page draws "Link to this view" itself (show_link, inside its query fragment)."""
    init_state()
    loaded, _, error = models.choose()
    cfg, name = loaded.model.cfg, loaded.name
    if error:
        st.warning(error + " (Sidebar → Model.)")
    for note in st.session_state.link_notes:  # on every page, above it
        st.warning(f"The link could not restore everything: {note}.")
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
        help="Bundled samples written for this project, or your own text (pasted below; it is kept "
        "when you look at a sample, and comes back when you pick “Your text”).",
    )
    sb.text_area(
        "Text to analyse",
        key="text",
        height=140,
        on_change=_on_text,
        help="Paste any text. Press Ctrl+Enter (or click outside) to analyse it.",
    )
    _text_privacy(sb)
    sb.select_slider(
        "Token limit",
        TOKEN_LIMITS,
        key="max_tokens",
        help=f"Longer texts are cut to this many tokens (the model's context is {cfg.max_seq_len:,}).",
    )
    sb.slider(
        "Layer", 0, cfg.n_layers - 1, key="layer", help=f"Which of {name}'s {cfg.n_layers} layers to look at."
    )
    sb.number_input(  # a float box with no bounds, so "0", "-1", "1e9" or "2.5" reach checked_k as typed
        "k: tokens kept per query (top-k selection)",
        step=16.0,
        format="%g",
        key="k",
        help="DSA's budget: each query attends only to the k keys its indexer scores highest. "
        "This is top-k *selection* of keys, not top-k *sampling* of output words.",
    )
    sb.selectbox(
        "Attention head",
        heads,
        key="head",
        help=f"Dense attention of one head, or the mean of the {cfg.n_heads} heads "
        "(what the indexer learns).",
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
    settings = current()
    if link_box:
        with sb:
            show_link()
    else:
        links.follow(sample_text)
    return settings


def show_link():
    """ "Link to this view": the current view's link with a copy button. In the sidebar, or on a page
    whose query lives in a fragment at the fragment's end, so that it follows the query too."""
    with st.expander("Link to this view"):
        st.code(links.sync(sample_text), language=None, wrap_lines=True)
        st.caption(
            "Copy it with the button at its right (the address bar holds the same link). It opens this "
            "page with this text, token limit, layer, k, head, query (and the Learn step and the Family "
            "page's variant). "
            + (
                "A pasted text travels only once you share it, as a short hash: the link works on this "
                "server until it restarts or you forget the text."
                if links.class_mode()
                else "A pasted text travels as a short hash: the link works on this server until it restarts."
            )
        )


def checked_k():
    """(k, note): the k box's value if the registry's check allows it (a whole number from 1 to the
    largest token limit); otherwise the last valid k and a note naming the problem (never a silent
    coercion, and never written into the link)."""
    s = st.session_state
    raw, last = s.k, s.k_valid
    try:
        s.k_valid = keys.check("k", raw)
    except keys.Invalid as e:
        if raw is None:
            return last, f"The k box is empty: type a whole number from 1 to {keys.MAX_K:,}; k stays {last}."
        return last, (
            f"k = {raw:g} {e}: k stays {last}. Type a whole number of tokens to keep per query, from 1 "
            f"to {keys.MAX_K:,} (the longest token limit)."
        )
    return s.k_valid, None


def current():
    """The shared settings from session_state (set by the sidebar that app.py draws on every page)."""
    init_state()
    s = st.session_state
    head = None if s.head == "mean of heads" else int(s.head.split()[-1])
    k, k_note = checked_k()
    return {
        "text": s.text,
        "max_tokens": int(s.max_tokens),
        "layer": int(s.layer),
        "k": k,
        "k_note": k_note,
        "head": head,
    }


def count(n, word):
    """'1 token', '2 tokens': a number with its noun in the right number."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


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
        detail = type(e).__name__ if os.environ.get("DSA_CLASS_MODE") else f"{type(e).__name__}: {e}"
        st.error(f"The analysis failed ({detail}). Try a shorter or different text.")
        st.stop()
    T = len(prep.ids)
    notes = [n for n in prep.notes if not n.startswith("cut ")]
    if "\ufffd" in text:
        notes.append(
            f"The text holds {count(text.count(chr(0xFFFD)), 'replacement character')} (�): invalid "
            "Unicode (e.g. half of an emoji, from a broken copy) was repaired. Re-copy the text if "
            "something is missing."
        )
    if prep.n_cut or len(text) < len(full):
        more = (
            f" Raise the token limit in the sidebar to see more (up to {max(TOKEN_LIMITS):,})."
            if settings["max_tokens"] < max(TOKEN_LIMITS)
            else f" {max(TOKEN_LIMITS):,} tokens is the app's longest limit."
        )
        notes.insert(
            0,
            f"The text is longer than the token limit: only its first {count(T, 'token')} are analysed "
            f"({len(prep.text):,} of {len(full):,} characters, {len(prep.text) / len(full):.0%}).{more}",
        )
    if settings.get("k_note"):
        notes.append(settings["k_note"])
    k_asked = settings["k"]  # >= 1: checked_k refuses anything else
    k = min(k_asked, T)
    if k_asked >= T:
        notes.append(
            f"k = {k_asked} is at least the text length ({count(T, 'token')}): every query keeps all "
            f"its visible tokens, so DSA equals dense attention here. Lower k to see a difference."
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
