"""Bad input keeps the user's work and gets a message: the pasted text survives switching samples ("Your
text"), k is validated (never silently coerced), counts read "1 token", the token-limit advice fits the
limit, and repaired Unicode is announced."""

from apphelp import SHORT, make_app, no_errors

from lessons import state


def _warnings(at):
    return " ".join(w.value for w in at.warning)


def test_the_pasted_text_survives_switching_samples():
    at = make_app(text=SHORT)
    at = at.selectbox(key="sample").set_value("Chat (multi-turn)").run()
    assert at.session_state["text"] == state.sample_text("Chat (multi-turn)")
    at = at.selectbox(key="sample").set_value("Your text").run()
    no_errors(at)
    assert at.session_state["text"] == SHORT


def test_editing_a_sample_makes_it_your_text_and_keeps_it():
    at = make_app(text=SHORT)
    at = at.selectbox(key="sample").set_value("Article").run()
    edited = state.sample_text("Article")[:300] + " My own ending."
    at = at.text_area(key="text").input(edited).run()
    assert at.selectbox(key="sample").value == "Your text"
    at = at.selectbox(key="sample").set_value("Chat (multi-turn)").run()
    at = at.selectbox(key="sample").set_value("Your text").run()
    assert at.session_state["text"] == edited


def test_k_is_validated_not_coerced():
    at = make_app(k=8)
    for typed, why in ((2.5, "is not a whole number from 1 to 8,192"), (1e9, "is outside 1–8,192")):
        at = at.number_input(key="k").set_value(typed).run()
        assert not at.exception
        assert f"k = {typed:g} {why}" in _warnings(at)
        assert "the indexer kept **8**" in " ".join(m.value for m in at.markdown)  # k stays 8
    at = at.number_input(key="k").set_value(4).run()
    no_errors(at)
    assert "not a whole number" not in _warnings(at)
    assert "the indexer kept **4**" in " ".join(m.value for m in at.markdown)


def test_one_token_reads_1_token():
    at = make_app(text="Hello", k=64)
    assert not at.exception
    text = _warnings(at) + " ".join(m.value for m in at.markdown)
    assert "(1 token)" in text and "1 tokens" not in text
    for page in ("lessons/learn.py", "lessons/train.py"):
        at = make_app(text="Hello", k=64, page=page)
        assert not at.exception
        shown = " ".join(e.value for e in [*at.warning, *at.markdown, *at.caption, *at.info])
        assert "1 token" in shown and "1 tokens" not in shown, page


def test_no_raise_the_limit_advice_at_the_longest_limit(monkeypatch):
    monkeypatch.setattr(state, "TOKEN_LIMITS", [32, 64])  # keep the model run short: 64 is the longest
    long_text = (SHORT + " ") * 10
    at = make_app(text=long_text, max_tokens=64)
    assert "only its first 64 tokens" in _warnings(at) and "Raise the token limit" not in _warnings(at)
    assert "64 tokens is the app's longest limit" in _warnings(at)
    at = make_app(text=long_text, max_tokens=32)
    assert "Raise the token limit in the sidebar to see more (up to 64)" in _warnings(at)


def test_repaired_unicode_is_announced():
    at = make_app(text="Broken \ufffd emoji, then text after it.")
    assert not at.exception
    assert "invalid Unicode (e.g. half of an emoji, from a broken copy) was repaired" in _warnings(at)


def test_a_short_text_loses_0_percent_never_minus_0():
    at = make_app(text="The cat sat on the mat and looked at the dog, who sat on the rug.", k=64)
    text = " ".join(m.value for m in at.markdown)
    assert "**loses 0%**" in text and "-0%" not in text


def test_learn_step_3_never_says_fewer_than_k_when_it_is_not():
    at = make_app(text="Hello", k=1, page="lessons/learn.py", learn_step=3)
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "Query 0 sees 1 token, at least k = 1, so its selection has no empty slot" in text
    assert "fewer than k = 1" not in text
    at = make_app(k=32, page="lessons/learn.py", learn_step=3)
    assert "Query 16 sees 17 tokens, fewer than k = 32" in " ".join(m.value for m in at.markdown)
