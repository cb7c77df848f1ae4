"""Every key the app keeps in st.session_state, declared once: its default, the values it may hold, and
its parameter in a link to the view (lessons/links.py). One validator per key checks both what a widget
holds and what a link brings, so a typed "k = 0" and a linked "?k=0" get the same message.

A validator takes a value (a widget's, or a link's string) and returns the allowed value, or raises
Invalid, whose text completes the sentence "`k=0` ..." (e.g. "is not a whole number from 1 to 8,192").
Link strings are read strictly: only ASCII digits make a number ("²" and "١" are not numbers here,
though Python's int() would take some of them), and at most 12 of them.

Pages call `init()` once per run (app.py's sidebar does), `ensure(name, ...)` for the few defaults that
depend on the page (the query defaults to the last token, the Family page's block size to k / 16), and
read and write st.session_state by these names. tests/app/test_keys.py checks that no other key appears.
"""

import dataclasses
import re
from collections.abc import Callable

import streamlit as st

SAMPLES = {  # the sidebar's bundled texts: name -> file in assets/texts
    "Contract (long, ~2,700 tokens)": "contract.txt",
    "Chat (multi-turn)": "chat.txt",
    "Article": "article.txt",
    "Source code": "source_code.txt",
}
SHORT = dict(zip(("contract", "chat", "article", "code"), SAMPLES))  # a sample's name in a link
OWN = "Your text"  # the user's own text: kept when a sample is picked, back when this is picked again
TOKEN_LIMITS = [64, 128, 256, 512, 1024, 2048, 4096, 8192]
MAX_K = max(TOKEN_LIMITS)
LEARN_STEPS = 8  # lessons/learn.py's steps, numbered 1..8
BLOCKS, COMPRESS, EVERY = (1, 2, 4, 8, 16, 32, 64), (1, 2, 4, 8, 16), (1, 2, 3, 4, 5, 6)  # Family page
DIGITS = 12  # the longest number a link may hold


class Invalid(ValueError):
    """A value a key does not allow; its text says why, after the value: "is not one of max, mean"."""


def _number(raw):
    """A number from a widget (int or float) or a link (ASCII digits, an optional sign); else Invalid."""
    if isinstance(raw, bool) or raw is None:
        raise Invalid("is empty")
    if isinstance(raw, str):
        if not re.fullmatch(rf"[+-]?[0-9]{{1,{DIGITS}}}", raw.strip()):
            raise Invalid("is not a whole number")
        return int(raw.strip())
    if isinstance(raw, (int, float)):
        if raw != raw or raw in (float("inf"), float("-inf")) or raw != int(raw):
            raise Invalid("is not a whole number")
        return int(raw)
    raise Invalid("is not a number")


def whole(lo, hi):
    """Validator: a whole number from lo to hi."""

    def check(raw):
        try:
            value = _number(raw)
        except Invalid as e:
            raise Invalid(f"{e} from {lo:,} to {hi:,}") from None
        if not lo <= value <= hi:
            raise Invalid(f"is outside {lo:,}–{hi:,}")
        return value

    check.allowed = f"a whole number from {lo:,} to {hi:,}"
    return check


def one_of(*values):
    """Validator: one of `values` (a link's digits are read as the number when the values are numbers)."""

    def check(raw):
        value = raw
        if isinstance(raw, str) and all(isinstance(v, int) for v in values):
            try:
                value = _number(raw)
            except Invalid:
                value = None
        if value not in values:
            raise Invalid(f"is not one of {', '.join(map(str, values))}")
        return value

    check.allowed = f"one of {', '.join(map(str, values))}"
    return check


def token_limit(raw):
    """Validator of the token limit: a whole number of tokens, rounded up to the next of TOKEN_LIMITS."""
    value = whole(min(TOKEN_LIMITS), MAX_K)(raw)
    return min(t for t in TOKEN_LIMITS if t >= value)


def head(raw):
    """Validator of the head: "mean of heads" (a link says "mean"), or "head N" (a link says N)."""
    if raw in ("mean", "mean of heads"):
        return "mean of heads"
    number = raw.removeprefix("head ") if isinstance(raw, str) else raw
    try:
        return f"head {whole(0, 1_000)(number)}"
    except Invalid as e:
        raise Invalid(f"{e} (or mean)") from None


def sample(raw):
    """Validator of the text selector: a sample's name, or "Your text"."""
    return one_of(*SAMPLES, OWN)(raw)


def _short_to_name(raw):
    if raw not in SHORT:
        raise Invalid(f"is not one of {', '.join(SHORT)}")
    return SHORT[raw]


@dataclasses.dataclass(frozen=True)
class Key:
    """One session key. default: a value, or a function of the page's context (see ensure); None leaves
    the key unset until the page sets it. check: the validator. param: its name in a link. parse: a link
    string -> what check takes (default: the string itself); show: the value -> a link string (None:
    not in the link); store: check's result -> the session value (the k box holds a float)."""

    name: str
    about: str
    default: object = None
    check: Callable | None = None
    param: str | None = None
    parse: Callable | None = None
    show: Callable | None = None
    store: Callable | None = None

    def from_link(self, raw):
        """The session value for a link's string; Invalid says why not."""
        value = self.check(self.parse(raw) if self.parse else raw)
        return self.store(value) if self.store else value

    def to_link(self, value):
        return self.show(value) if self.show else str(value)


KEYS = {
    k.name: k
    for k in [
        # the shared sidebar (lessons/state.py)
        Key(
            "sample",
            "which text: a bundled sample or the user's own",
            next(iter(SAMPLES)),
            sample,
            "sample",
            _short_to_name,
            lambda v: next((s for s, n in SHORT.items() if n == v), None),
        ),
        Key(  # a link holds its hash (links.py)
            "text", "the text in the sidebar's box", lambda read: read(next(iter(SAMPLES))), param="text"
        ),
        Key("own_text", "the user's own text, kept while a sample is shown", ""),
        Key("max_tokens", "the token limit", 512, token_limit, "tokens"),
        Key(
            "layer", "the layer (the sidebar clamps it to the model's layers)", 10, whole(0, 10_000), "layer"
        ),
        Key(
            "k",
            "the k box as typed (a float box: 1e9 or 2.5 reach the check)",
            64.0,
            whole(1, MAX_K),
            "k",
            store=float,
        ),
        Key("k_valid", "the last k that passed the check: what the pages use and the link holds", 64),
        Key(
            "head",
            "the attention head, or the mean of heads",
            "mean of heads",
            head,
            "head",
            show=lambda v: "mean" if v == "mean of heads" else v.split()[-1],
        ),
        Key("query", "the query token (default: the last one)", lambda T: T - 1, whole(0, 1_000_000), "q"),
        Key("pool", "pooling of long maps", "max", one_of("max", "mean")),
        Key("fig_fmt", "the camera button's download format", "png", one_of("png", "svg")),
        Key("model_path", "the model box (lessons/models.py)", ""),
        Key("model_source", "the model this session runs (None: the embedded one)"),
        Key("link_notes", "what the opening link could not restore"),
        Key("text_shared", "the hash of the text its author shared by a link (class mode)", False),
        Key("text_forgotten", "the text was just forgotten (the sidebar says so once)", False),
        # Learn
        Key("learn_step", "Learn's step", 1, whole(1, LEARN_STEPS), "step"),
        # Explore
        Key("grid_open", "Explore: the token grid's expander is open (its chart is drawn only then)", None),
        Key("zoom_on", "Explore: a full-resolution window instead of pooled maps", False),
        Key("zoom_lo", "Explore: the window's first position", lambda lo: lo, whole(0, 1_000_000)),
        Key("effect_cancelled", "Explore: Cancel was pressed during the whole-model run", False),
        # Family
        Key(
            "fam_block",
            "Family: block size b",
            lambda k: max(b for b in BLOCKS if b <= max(1, k // 16)),
            one_of(*BLOCKS),
            "block",
        ),
        Key("fam_pool", "Family: block score", "max", one_of("max", "mean"), "pool"),
        Key(
            "fam_c",
            "Family: tokens per pooled key c",
            lambda k: 4 if k >= 4 else max(c for c in COMPRESS if c <= max(1, k)),
            one_of(*COMPRESS),
            "c",
        ),
        Key("fam_every", "Family: one computing layer per r", 4, one_of(*EVERY), "every"),
        Key("fam_rule", "Family: which layers compute", "every", one_of("every", "overlap"), "rule"),
        Key("fam_cw", "Family: the compressed member's indexers", "pooled", one_of("token", "pooled"), "cw"),
        Key("fam_ppl_cancelled", "Family: Cancel was pressed during the model runs", False),
        # Generate
        Key("gen_n", "Generate: new tokens per mode", 32, whole(1, 256)),
        Key("gen_sampling", "Generate: greedy or sampled next token", "greedy", one_of("greedy", "sample")),
        Key("gen_temp", "Generate: sampling temperature", 0.8, one_of(0.5, 0.8, 1.0, 1.2)),
        Key("gen_seed", "Generate: the sampling seed", 0, whole(0, 2**31 - 1)),
        Key("gen_fmt", "Generate: the cache format of the byte counts", "fp8"),
        Key(
            "gen_step", "Generate: the generated token shown (default: the last)", lambda n: n, whole(1, 256)
        ),
        Key("gen_cancelled", "Generate: Cancel was pressed during the run", False),
        # Train
        Key("train_source", "Train: the text", "the current text"),
        Key("train_start", "Train: the starting indexer", "a fresh, untrained indexer (watch it learn)"),
        Key("train_steps", "Train: steps", 60, whole(10, 400)),
        Key("train_lr", "Train: learning rate", 3e-3, one_of(3e-4, 1e-3, 3e-3, 1e-2)),
        Key("train_nq", "Train: queries per step", 128, one_of(32, 64, 128, 256)),
        Key("train_query", "Train: the query shown before and after", lambda T: T - 1, whole(0, 1_000_000)),
        Key("trained", "Train: this session's trained indexer (never the shared model's)"),
        Key("train_cancelled", "Train: Cancel was pressed during the training run", False),
        # Cost
        Key("cost_shape", "Cost: the model shape", lambda first: first),
        Key("cost_phase", "Cost: prefill or decode", "prefill", one_of("prefill", "decode")),
        Key("cost_k", "Cost: k", lambda k: k, one_of(64, 128, 256, 512, 1024, 2048, 4096)),
        Key("api_workload", "Cost: the API calculator's workload", lambda first: first),
        Key("api_share", "Cost: share of input from the context cache", lambda share: share),
        Key("bench_lengths", "Cost: lengths to time", [1024, 2048, 4096, 8192]),
        Key("bench_cancelled", "Cost: Cancel was pressed during the timing run", False),
        Key("bench_result", "Cost: this session's timing result"),
    ]
}
# Keys of buttons, charts and downloads: they hold an event (a click, a selection), not a setting.
EVENTS = {
    "run_effect", "cancel_effect", "token_grid", "maps", "learn_back", "learn_next", "fam_ppl_go",
    "fam_ppl_cancel", "train_go", "train_cancel", "bench_go", "bench_cancel", "l_dense", "l_scores",
    "share_text", "forget_text", "gen_go", "gen_cancel", "gen_picks", "gen_mass", "gen_curves",
}  # fmt: skip
EVENT_PREFIXES = ("csv-", "json-", "bj_", "train_live_")  # downloads and the live training chart


def init():
    """Every key with a fixed default, set once per browser session (each tab has its own)."""
    s = st.session_state
    for key in KEYS.values():
        if key.default is not None and not callable(key.default) and key.name not in s:
            s[key.name] = list(key.default) if isinstance(key.default, list) else key.default


def ensure(name, *context):
    """The key's value, set first from its default for this page's context (e.g. ensure("query", T))."""
    s, key = st.session_state, KEYS[name]
    if name not in s:
        s[name] = key.default(*context) if callable(key.default) else key.default
    return s[name]


def check(name, value):
    """The key's validator applied to a value (a widget's): the allowed value, or Invalid."""
    return KEYS[name].check(value)


def linked():
    """The keys that travel in a link, in link order."""
    return [k for k in KEYS.values() if k.param]
