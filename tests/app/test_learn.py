"""The Learn page: every step renders on the current text with a formula, a figure and real source."""
import pytest

from apphelp import figures, make_app, no_errors

PAGE = "lessons/learn.py"


@pytest.fixture(scope="module")
def at():
    return make_app(page=PAGE)


def test_every_step_renders_with_formula_figure_and_source(at):
    steps = at.selectbox(key="learn_step").options
    assert len(steps) == 8
    for i, name in enumerate(steps):
        at.selectbox(key="learn_step").set_value(name).run()
        no_errors(at)
        assert at.latex, name                                    # the formula
        assert figures(at), name                                 # a live figure
        code = " ".join(c.value for c in at.code)
        assert "def " in code, name                              # inspect.getsource of a dsa_core function


def test_next_button_advances(at):
    at.selectbox(key="learn_step").set_value(at.selectbox(key="learn_step").options[0]).run()
    at.button(key="learn_next").click().run()
    no_errors(at)
    assert at.selectbox(key="learn_step").value.startswith("2.")


def test_k_changes_the_causal_trap_row():
    at = make_app(page=PAGE, k=16)
    at.selectbox(key="learn_step").set_value("3. Top-k selection and the causal trap").run()
    no_errors(at)
    assert any("9 real positions and 7 empty slots" in m.value for m in at.markdown)
