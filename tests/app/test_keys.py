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


CHARTS = {"show_figure", "plotly_chart", "dataframe"}  # their key holds state only with on_select
DICT_METHODS = {"get", "pop", "setdefault", "update", "keys", "items", "values", "clear", "to_dict"}


def _session_keys_in_source(tree):
    """(name, line) of every session key a source file names literally: a widget's key= (a chart's only
    with on_select; an f-string key by its literal start), st.session_state (or an alias of it)
    subscripted, read as an attribute, passed to get/pop/setdefault, tested with `in`, or given to
    update(name=...), and the names given to keys.ensure/keys.check."""
    import ast

    def is_state(node):
        dotted = isinstance(node, ast.Attribute) and node.attr == "session_state"
        return dotted or (isinstance(node, ast.Name) and node.id in aliases)

    def literal(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):  # f"bj_{label}": its literal start, which must be a prefix
            head = node.values[0] if node.values else None
            return head.value if isinstance(head, ast.Constant) else ""
        return None

    aliases = set()  # s = st.session_state; s, sb = st.session_state, st.sidebar
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            pairs = [(node.targets[0], node.value)]
            if isinstance(node.targets[0], ast.Tuple) and isinstance(node.value, ast.Tuple):
                pairs = zip(node.targets[0].elts, node.value.elts)
            aliases |= {t.id for t, v in pairs if isinstance(t, ast.Name) and is_state(v)}
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Call):
            f, kw = node.func, {k.arg: k.value for k in node.keywords}
            fname = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
            if "key" in kw and (fname not in CHARTS or "on_select" in kw):
                names.append(literal(kw["key"]))
            if isinstance(f, ast.Attribute) and is_state(f.value) and node.args:
                if f.attr in ("get", "pop", "setdefault"):
                    names.append(literal(node.args[0]))
            if isinstance(f, ast.Attribute) and is_state(f.value) and f.attr == "update":
                names += [k.arg for k in node.keywords if k.arg]
            if isinstance(f, ast.Attribute) and f.attr in ("ensure", "check") and node.args:
                if isinstance(f.value, ast.Name) and f.value.id == "keys":
                    names.append(literal(node.args[0]))
        elif isinstance(node, ast.Subscript) and is_state(node.value):
            names.append(literal(node.slice))
        elif isinstance(node, ast.Attribute) and is_state(node.value) and id(node) not in called:
            if node.attr not in DICT_METHODS:
                names.append(node.attr)
        elif isinstance(node, ast.Compare) and any(is_state(c) for c in node.comparators):
            names.append(literal(node.left))
        found += [(n, node.lineno) for n in names if n is not None]
    return found


def test_every_session_key_named_in_the_source_is_in_the_registry():
    """Also the keys a page sets only on a click (a Cancel, a finished run), which opening the pages
    above never reaches: every literal session key in app.py and lessons/*.py is declared."""
    import ast
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2]
    found, unknown = set(), []
    for path in [root / "app.py", *sorted((root / "lessons").glob("*.py"))]:
        for name, line in _session_keys_in_source(ast.parse(path.read_text())):
            found.add(name)
            ok = name in keys.KEYS or name in keys.EVENTS or (name and name.startswith(keys.EVENT_PREFIXES))
            if not ok:
                unknown.append(f"{path.name}:{line} {name!r}")
    assert not unknown, f"session keys missing from lessons/keys.py: {unknown}"
    # the scan reaches widgets, attribute reads, pop/update in callbacks and keys.ensure
    assert {"k", "query", "learn_step", "gen_cancelled", "bench_cancelled", "fam_ppl_cancel"} <= found


def test_the_source_scan_finds_an_undeclared_key():
    import ast

    src = (
        "import streamlit as st\ns = st.session_state\nst.button('Go', key='x_go')\n"
        "if s.pop('x_cancelled', False): pass\nst.session_state.update(x_done=True)\n"
        "v = s.x_attr + st.session_state['x_sub']\nok = 'x_in' in st.session_state\n"
        "show.show_figure(fig, 'n', key='x_chart')\nshow.show_figure(fig, 'n', key='x_sel', on_select=f)\n"
    )
    names = {n for n, _ in _session_keys_in_source(ast.parse(src))}
    assert names == {"x_go", "x_cancelled", "x_done", "x_attr", "x_sub", "x_in", "x_sel"}
