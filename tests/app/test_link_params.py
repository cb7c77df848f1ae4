"""Links to a view (st.query_params): opening a link restores page settings; the address bar follows the
view; a pasted text travels as a short hash that works on this server; bad values get a note."""

from apphelp import APP, SHORT, make_app, no_errors
from streamlit.testing.v1 import AppTest


def _open(**params):
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def _markdown(at):
    return " ".join(m.value for m in at.markdown)


def test_a_link_restores_text_layer_k_head_and_query():
    at = _open(sample="chat", tokens="64", layer="3", k="4", head="2", q="20")
    no_errors(at)
    s = at.session_state
    assert (s["sample"], s["max_tokens"], s["layer"], s["k"], s["head"], s["query"]) == (
        "Chat (multi-turn)",
        64,
        3,
        4,
        "head 2",
        20,
    )
    text = _markdown(at)
    assert "**Query 20 " in text and "(layer 3, head 2)" in text and "the indexer kept **4**" in text


def test_the_address_bar_follows_the_view_and_the_link_is_shown_to_copy():
    at = make_app(k=8, layer=2)
    no_errors(at)
    at = at.slider(key="query").set_value(7).run()
    params = dict(at.query_params)
    assert params["k"] == "8" and params["layer"] == "2" and params["q"] == "7" and "text" in params
    (link,) = [c.value for c in at.code if "?" in c.value]  # st.code: Streamlit draws a copy button
    assert not at.sidebar.code  # on Explore the box is in the query's part of the page, so it follows it
    assert "k=8" in link and "q=7" in link and f"text={params['text']}" in link


def test_a_pasted_text_travels_as_a_hash_on_this_server():
    first = make_app(text=SHORT + " Miso.", k=8)
    h = dict(first.query_params)["text"]
    assert len(h) == 12 and SHORT not in " ".join(first.query_params.values())  # the text is not in the URL
    at = _open(text=h, k="8")
    no_errors(at)
    assert at.session_state["text"] == SHORT + " Miso." and at.session_state["sample"] == "Your text"


def test_a_text_hash_unknown_here_says_so_and_keeps_the_other_settings():
    at = _open(text="0123456789ab", layer="4", tokens="64")
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "is not on this server" in warnings and "Paste the text again" in warnings
    assert at.session_state["layer"] == 4


def test_bad_values_in_a_link_are_named_and_ignored():
    at = _open(sample="poem", k="1e9", layer="abc", head="-1", q="x", tokens="64")
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    for bad in ("`sample=poem`", "`k=1e9`", "`layer=abc`", "`head=-1`", "`q=x`"):
        assert bad in warnings, (bad, warnings)
    s = at.session_state
    assert s["k"] == 64 and s["layer"] == 10 and s["head"] == "mean of heads"  # the defaults


def test_a_link_restores_the_family_pages_variant():
    at = AppTest.from_file(APP, default_timeout=240)
    for key, value in dict(
        sample="chat", tokens="64", k="16", block="4", pool="mean", c="2", every="3"
    ).items():
        at.query_params[key] = value
    at.query_params["rule"] = "overlap"
    at.switch_page("lessons/family.py")
    at = at.run()
    no_errors(at)
    s = at.session_state
    assert (s["fam_block"], s["fam_pool"], s["fam_c"], s["fam_every"], s["fam_rule"]) == (
        4,
        "mean",
        2,
        3,
        "overlap",
    )
    params = dict(at.query_params)
    assert {k: params[k] for k in ("block", "pool", "c", "every", "rule")} == {
        "block": "4",
        "pool": "mean",
        "c": "2",
        "every": "3",
        "rule": "overlap",
    }
    bad = _open(tokens="64", block="5", rule="random")
    warnings = " ".join(w.value for w in bad.warning)
    assert "`block=5` is not one of" in warnings and "`rule=random` is not one of" in warnings


def test_a_link_restores_the_compressed_members_weights():
    at = AppTest.from_file(APP, default_timeout=240)
    for key, value in dict(sample="chat", tokens="64", k="16", c="4", cw="token").items():
        at.query_params[key] = value
    at.switch_page("lessons/family.py")
    at = at.run()
    no_errors(at)
    assert at.session_state["fam_cw"] == "token"  # not the default pooled-key weights
    assert dict(at.query_params)["cw"] == "token"
