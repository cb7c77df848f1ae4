"""The one registry of session keys (lessons/keys.py): every key the pages keep is declared there; every
link parameter goes through its key's validator, the same one that checks the widget; hostile link
values and hostile typed k values get a note naming the problem, never an exception, and a refused k is
never written into the link."""

import pytest
from apphelp import APP, make_app, no_errors
from streamlit.testing.v1 import AppTest

from lessons import keys

HOSTILE = [
    "²",  # str.isdigit() is True, int() fails: once crashed every page (?block=%C2%B2)
    "①",
    "١٢",  # Arabic-Indic digits: int() takes them, a link should not
    "-1",
    "0",
    "9" * 30,  # huge
    "1e9",
    "2.5",
    "x" * 300,  # a 300-byte string
    "ünï©ødé 😀 \u202e",  # unicode, an emoji and a right-to-left override
    "`**x**`",  # Markdown and backticks in a note
    "",
    " 4 ",
]


def _open(page, **params):
    at = AppTest.from_file(APP, default_timeout=180)
    for key, value in params.items():
        at.query_params[key] = value
    if page:
        at.switch_page(page)
    return at.run()


def _warnings(at):
    return " ".join(w.value for w in at.warning)


def _expected(key, raw):
    try:
        return key.from_link(raw), None
    except keys.Invalid as e:
        return None, str(e)


def test_link_values_are_read_strictly():
    k, block, tokens = keys.KEYS["k"], keys.KEYS["fam_block"], keys.KEYS["max_tokens"]
    assert k.from_link("16") == 16.0 and isinstance(k.from_link(" 16 "), float)  # the k box is a float box
    for raw in ("²", "١٢", "1e9", "2.5", "", "9" * 30, "0", "-1", "8193"):
        with pytest.raises(keys.Invalid):
            k.from_link(raw)
    assert str(_expected(block, "²")[1]) == "is not one of 1, 2, 4, 8, 16, 32, 64"
    assert tokens.from_link("100") == 128  # rounded up to the next token limit
    assert (
        keys.KEYS["head"].from_link("mean") == "mean of heads"
        and keys.KEYS["head"].from_link("3") == "head 3"
    )


@pytest.mark.parametrize("raw", HOSTILE, ids=range(len(HOSTILE)))
def test_every_link_parameter_survives_hostile_values_with_a_clear_note(raw):
    """Every parameter at once, on the Cost page (the sidebar reads the link on every page, and this
    page runs no model). `text` is tested on its own below: a sample wins over a text in a link."""
    at = _open("lessons/cost.py", **{k.param: raw for k in keys.linked() if k.name != "text"})
    assert not at.exception, [e.value for e in at.exception]
    notes, s = _warnings(at), at.session_state
    for key in keys.linked():
        if key.name == "text":
            continue
        value, why = _expected(key, raw)
        if why is None:
            assert s[key.name] == value, (key.param, raw)
        else:  # named with the value (at most 20 characters of it) and why, in words
            assert f"`{key.param}=" in notes and why in notes, (key.param, raw, notes)
    assert "\u202e" not in notes and "``" not in notes  # no invisible characters; code spans stay closed


@pytest.mark.parametrize("raw", ["", "x" * 300, "ünï©ødé 😀 \u202e"], ids=range(3))
def test_a_hostile_text_hash_says_the_text_is_not_here(raw):
    at = _open("lessons/cost.py", text=raw, layer="3")
    assert not at.exception
    notes = _warnings(at)
    assert "the link's text" in notes and "is not on this server" in notes and "\u202e" not in notes
    assert at.session_state["layer"] == 3  # the other settings are restored


@pytest.mark.parametrize("page", ["lessons/family.py", "lessons/learn.py", None])
def test_the_page_that_uses_a_parameter_survives_a_unicode_digit(page):
    at = _open(page, tokens="64", block="²", c="³", every="①", step="²", q="²", k="²", sample="chat")
    no_errors(at)
    notes = _warnings(at)
    for param in ("block", "c", "every", "step", "q", "k"):
        assert f"`{param}=" in notes, (param, notes)


def test_a_link_opens_a_learn_step():
    at = _open("lessons/learn.py", tokens="64", step="3", sample="chat")
    no_errors(at)
    assert at.session_state["learn_step"] == 3 and at.selectbox(key="learn_step").value == 3
    assert dict(at.query_params)["step"] == "3"


@pytest.mark.parametrize("typed", [0, -1, 2.5, 1e9, 8193])
def test_a_refused_k_gets_a_message_and_never_reaches_the_link(typed):
    at = make_app(k=8)
    at = at.number_input(key="k").set_value(typed).run()
    assert not at.exception
    warning = _warnings(at)
    assert f"k = {typed:g} " in warning and "k stays 8" in warning, warning
    assert ("is outside 1–8,192" if float(typed).is_integer() else "is not a whole number") in warning
    assert dict(at.query_params)["k"] == "8"  # the link keeps the last k the page used
    assert "the indexer kept **8**" in " ".join(m.value for m in at.markdown)


def test_the_k_box_and_a_link_share_one_validator():
    """-1 typed and ?k=-1 in a link are refused for the same reason, in the same words."""
    typed = make_app(k=8).number_input(key="k").set_value(-1).run()
    linked = _open("lessons/cost.py", k="-1")
    why = str(_expected(keys.KEYS["k"], "-1")[1])
    assert why == "is outside 1–8,192"
    assert f"k = -1 {why}" in _warnings(typed) and f"`k=-1` {why}" in _warnings(linked)


def _registered(name):
    return (
        name in keys.KEYS
        or name in keys.EVENTS
        or name.startswith(keys.EVENT_PREFIXES)
        or name.startswith("$$")  # Streamlit's own ids of keyless widgets
    )


def test_every_session_key_of_every_page_is_in_the_registry():
    at = make_app(max_tokens=64, k=8)
    seen = set()
    pages = (None, "lessons/learn.py", "lessons/family.py", "lessons/generate.py", "lessons/train.py")
    for page in (*pages, "lessons/cost.py"):
        if page:
            at.switch_page(page)
            at = at.run()
        assert not at.exception, (page, [e.value for e in at.exception])
        seen |= set(at.session_state.keys())
    unknown = sorted(n for n in seen if not _registered(n))
    assert not unknown, f"session keys missing from lessons/keys.py: {unknown}"
    for name in ("k", "query", "learn_step", "fam_block", "fam_every", "train_steps"):
        assert name in seen


def test_every_key_has_an_about_and_linked_keys_a_validator():
    for key in keys.KEYS.values():
        assert key.about, key.name
        if key.param and key.name != "text":  # a text travels as a hash, checked by its lookup
            assert key.check is not None, key.name
    params = [k.param for k in keys.linked()]
    assert len(params) == len(set(params))


def test_no_page_sets_a_session_default_of_its_own():
    """Defaults live in lessons/keys.py (keys.init, keys.ensure), not in setdefault calls on the pages."""
    import pathlib
    import re

    for path in (pathlib.Path(__file__).resolve().parents[2] / "lessons").glob("*.py"):
        text = path.read_text()
        assert not re.search(r"session_state\.setdefault|\bs\.setdefault\(", text), path.name
