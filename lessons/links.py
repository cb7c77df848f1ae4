"""Links to a view: the sidebar's settings live in the address bar (st.query_params), so a teacher can
send "layer 12, k = 64, query 311 of the contract" as a link, and opening it restores that view.

The page is the URL's path (/, /learn, /train, /cost, set by st.navigation). The parameters:
sample (a bundled sample's short name) or text (a short hash of pasted text), tokens, layer, k, head
(`mean` or a number), q (the query), and the Family page's variant: block, pool, c, every, rule,
cw (the compressed member's weights).
A pasted text is not in the link, only its hash: this server keeps the texts its users pasted (in
memory, bounded), so the link works on this server until it restarts; elsewhere the page says so.
Every value read from a link is validated: a bad one is ignored with a note, never a traceback.
"""

import hashlib
import threading
from urllib.parse import urlencode, urlsplit

import streamlit as st

SHORT = {"contract": 0, "chat": 1, "article": 2, "code": 3}  # sample short name -> index in SAMPLES
FAMILY = {  # the Family page's variant settings: link parameter -> (session key, allowed values)
    "block": ("fam_block", (1, 2, 4, 8, 16, 32, 64)),
    "pool": ("fam_pool", ("max", "mean")),
    "c": ("fam_c", (1, 2, 4, 8, 16)),
    "every": ("fam_every", (1, 2, 3, 4, 5, 6)),
    "rule": ("fam_rule", ("every", "overlap")),
    "cw": ("fam_cw", ("token", "pooled")),  # the compressed member's weights
}
KEEP_CHARS = 32_000_000  # pasted texts this server remembers for links, in characters (~130 MB worst)


@st.cache_resource
def _pasted():
    """{hash: text} of texts pasted on this server (oldest dropped first) and its lock, one per process."""
    return {"texts": {}, "lock": threading.Lock()}


def text_hash(text):
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def remember(text):
    """Keep a pasted text so links to it work on this server; returns its hash."""
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


def _whole(raw, name, lo, hi):
    """int(raw) if it is a whole number in [lo, hi]; otherwise a note saying why it was ignored."""
    try:
        value = int(raw)
    except ValueError:
        return None, f"`{name}={raw[:20]}` is not a whole number"
    if not lo <= value <= hi:
        return None, f"`{name}={value}` is outside {lo}–{hi:,}"
    return value, None


def read(samples, token_limits, sample_text):
    """Once per browser session: the link's parameters into session_state, before the widgets exist.
    Returns notes (str) for whatever could not be restored."""
    params, s, notes = st.query_params, st.session_state, []
    sample_names = list(samples)
    if "sample" in params:
        name = params["sample"]
        if name in SHORT:
            s.sample = sample_names[SHORT[name]]
            s.text = sample_text(s.sample)
        else:
            notes.append(f"`sample={name[:20]}` is not one of {', '.join(SHORT)}")
    elif "text" in params:
        text = recall(params["text"])
        if text is None:
            notes.append(
                f"the link's text (`{params['text'][:12]}`) is not on this server: it was pasted on "
                "another server, or before this one restarted. Paste the text again; the other "
                "settings of the link were restored"
            )
        else:
            s.sample, s.text, s.own_text = "Your text", text, text
    checks = {
        "tokens": (min(token_limits), max(token_limits)),
        "layer": (0, 10_000),
        "k": (1, max(token_limits)),
    }
    for name, (lo, hi) in checks.items():
        if name in params:
            value, bad = _whole(params[name], name, lo, hi)
            if bad:
                notes.append(bad)
            elif name == "tokens":
                s.max_tokens = min((t for t in token_limits if t >= value), default=max(token_limits))
            else:
                s[name] = float(value) if name == "k" else value
    if "head" in params:
        raw = params["head"]
        value, bad = (None, None) if raw == "mean" else _whole(raw, "head", 0, 1_000)
        if bad:
            notes.append(bad)
        else:
            s.head = "mean of heads" if raw == "mean" else f"head {value}"
    if "q" in params:
        value, bad = _whole(params["q"], "q", 0, 1_000_000)
        if bad:
            notes.append(bad)
        else:
            s.query = value
    for name, (key, allowed) in FAMILY.items():
        if name in params:
            raw = params[name]
            value = int(raw) if raw.isdigit() and isinstance(allowed[0], int) else raw
            if value in allowed:
                s[key] = value
            else:
                notes.append(f"`{name}={raw[:20]}` is not one of {', '.join(map(str, allowed))}")
    return notes


def params(samples, sample_text):
    """The current view as query parameters (what `read` restores)."""
    s, names = st.session_state, list(samples)
    short = {names[i]: key for key, i in SHORT.items()}
    p = {}
    if s.get("sample") in short and s.get("text") == sample_text(s.sample):
        p["sample"] = short[s.sample]
    elif (s.get("text") or "").strip():
        p["text"] = remember(s.text)
    p["tokens"] = int(s.max_tokens)
    p["layer"] = int(s.layer)
    if s.get("k_valid") is not None:
        p["k"] = int(s.k_valid)
    p["head"] = "mean" if s.head == "mean of heads" else s.head.split()[-1]
    if "query" in s:
        p["q"] = int(s.query)
    p.update({name: s[key] for name, (key, _) in FAMILY.items() if key in s})
    return {key: str(v) for key, v in p.items()}


def sync(samples, sample_text):
    """Write the current view into the address bar (only when it changed) and return its full link."""
    p = params(samples, sample_text)
    if dict(st.query_params) != p:
        st.query_params.from_dict(p)
    url = st.context.url or ""
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.netloc else url
    return f"{base}?{urlencode(p)}"
