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
    for name in steps:
        at.selectbox(key="learn_step").set_value(name).run()
        no_errors(at)
        assert at.latex, name  # the formula
        assert figures(at), name  # a live figure
        code = " ".join(c.value for c in at.code)
        assert "def " in code, name  # inspect.getsource of a dsa_core function


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


def test_training_step_shows_the_recorded_evaluation_of_the_shipped_indexers(at):
    import json
    import pathlib

    at.selectbox(key="learn_step").set_value("7. Training the indexer").run()
    no_errors(at)
    recorded = json.loads(
        (
            pathlib.Path(__file__).resolve().parents[2] / "assets" / "indexers" / "eval_8192_k128.json"
        ).read_text()
    )
    ratio = [m.value for m in at.metric if "ideal top-128" in m.label]
    assert ratio == [f"{recorded['mean']['indexer_over_oracle']:.3f}"]
    recall = [f for f in figures(at) if "Recall per layer" in str(f["layout"].get("title"))]
    assert recall and len(recall[0]["data"]) == 4  # indexer, ideal, window, random
    assert len(at.dataframe) >= 2  # every k, and stage 2
    by_position = [f for f in figures(at) if "by query position" in str(f["layout"].get("title"))]
    assert by_position and len(by_position[0]["data"]) == 4  # two indexers x (ratio line, layer bars)


def test_indexer_step_states_the_loaded_indexer_size(at):
    at.selectbox(key="learn_step").set_value("2. The lightning indexer").run()
    no_errors(at)
    assert "here 4 × 64 dims" in " ".join(m.value for m in at.markdown)  # the shipped file's size
