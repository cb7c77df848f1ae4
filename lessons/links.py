"""Links to a view: the sidebar's settings live in the address bar (st.query_params), so a teacher can
send "layer 12, k = 64, query 311 of the contract" as a link, and opening it restores that view.

The page is the URL's path (/, /learn, /train, /cost, set by st.navigation). The parameters, their
values and their checks are declared once in lessons/keys.py: sample (a bundled sample's short name) or
text (a short hash of pasted text), tokens, layer, k, head (`mean` or a number), q (the query), step
(Learn's step) and the Family page's block, pool, c, every, rule and cw (the compressed member's weights).
Every value read from a link goes through the key's own validator, the one that checks its widget: a
bad one is ignored with a note naming it, never a traceback.

A pasted text is never in the link, only its hash, and only while this server remembers the text (in
memory, bounded, until it restarts). On one's own machine every pasted text is remembered, so its link
just works. In class mode (DSA_CLASS_MODE=1) a pasted text stays private to its browser tab: the link
carries its hash only after its author presses "Share this text with a link", and "Forget this text"
takes it off the server again (docs/class_mode.md).
"""

import hashlib
import os
import threading
import unicodedata
from urllib.parse import urlencode, urlsplit

import streamlit as st

from lessons import keys

KEEP_CHARS = 32_000_000  # pasted texts this server remembers for links, in characters (~130 MB worst)
SHOWN = 20  # characters of a bad link value quoted in its note
ALWAYS = {"max_tokens", "layer", "k", "head", "query"}  # the sidebar's view: in every link


def class_mode():
    return os.environ.get("DSA_CLASS_MODE", "") not in ("", "0")


@st.cache_resource
def _pasted():
    """{hash: text} of texts this server serves to links (oldest dropped first) and its lock, one per
    process."""
    return {"texts": {}, "lock": threading.Lock()}


def text_hash(text):
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def remember(text):
    """Serve this text to links by its hash (on this server, until it restarts); returns the hash."""
    h, store = text_hash(text), _pasted()
    with store["lock"]:
        texts = store["texts"]
        texts.pop(h, None)
        texts[h] = text
        while sum(map(len, texts.values())) > KEEP_CHARS and len(texts) > 1:
            texts.pop(next(iter(texts)))
    return h


def recall(h):
    with _pasted()["lock"]:
        return _pasted()["texts"].get(h)


def drop(text):
    """Stop serving this text to links (whoever opened it keeps their copy in their own tab)."""
    with _pasted()["lock"]:
        _pasted()["texts"].pop(text_hash(text), None)


def shared(text):
    """Whether links to this text work: always on one's own machine; in class mode once its author
    shared it (and not since forgotten)."""
    return not class_mode() or st.session_state.get("text_shared") == text_hash(text)


def share(text):
    """The author shares this text: links to it work on this server (class mode)."""
    remember(text)
    st.session_state.text_shared = text_hash(text)


def _quoted(raw):
    """A bad link value as it can be shown in a note: at most SHOWN characters, no backticks or
    invisible characters (they would end the code span or hide what was typed)."""
    raw = str(raw)
    visible = "".join(c if c.isprintable() and c != "`" else "�" for c in raw[:SHOWN])
    return unicodedata.normalize("NFC", visible) + ("…" if len(raw) > SHOWN else "")


def read(sample_text):
    """Once per browser session: the link's parameters into session_state, before the widgets exist.
    Returns notes (str) for whatever could not be restored."""
    params, s, notes = st.query_params, st.session_state, []
    for key in keys.linked():
        if key.param not in params:
            continue
        raw = params[key.param]
        if key.name == "text":
            if "sample" in params:
                continue  # a sample wins over a text
            text = recall(raw)
            if text is None:
                notes.append(
                    f"the link's text (`{_quoted(raw)}`) is not on this server: it was pasted on another "
                    "server or before this one restarted, its author did not share it, or forgot it. Paste "
                    "the text again; the other settings of the link were restored"
                )
            else:
                s.sample, s.text, s.own_text = keys.OWN, text, text
            continue
        try:
            value = key.from_link(raw)
        except keys.Invalid as e:
            notes.append(f"`{key.param}={_quoted(raw)}` {e}")
            continue
        s[key.name] = value
        if key.name == "sample":
            s.text = sample_text(value)
        if key.name == "k":
            s.k_valid = int(value)
    return notes


def params(sample_text):
    """The current view as query parameters (what `read` restores)."""
    s, p = st.session_state, {}
    for key in keys.linked():
        if key.name == "sample":
            short = key.to_link(s.get("sample"))
            if short and s.get("text") == sample_text(s.sample):
                p["sample"] = short
            continue
        if key.name == "text":
            text = s.get("text") or ""
            if "sample" not in p and text.strip() and shared(text):
                p["text"] = remember(text)
            continue
        name = "k_valid" if key.name == "k" else key.name  # the link holds the k the page uses
        if name not in s or s[name] is None:
            continue
        if key.name not in ALWAYS and not callable(key.default) and s[name] == key.default:
            continue  # a page's setting at its default stays out of the link (the link reads it back)
        value = key.to_link(s[name])
        if value is not None:
            p[key.param] = str(value)
    return p


def follow(sample_text):
    """Write the current view into the address bar, only when it changed (a page's fragment calls it:
    a fragment rerun does not redraw the sidebar's link box, but the address bar stays right)."""
    p = params(sample_text)
    if dict(st.query_params) != p:
        st.query_params.from_dict(p)
    return p


def sync(sample_text):
    """Write the current view into the address bar (only when it changed) and return its full link."""
    p = follow(sample_text)
    url = st.context.url or ""
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.netloc else url
    return f"{base}?{urlencode(p)}"
