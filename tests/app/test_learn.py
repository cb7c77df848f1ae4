"""The Learn page: every step renders on the current text with a formula, a figure and real source."""

import pytest
from apphelp import figures, make_app, no_errors

PAGE = "lessons/learn.py"
TITLES = [
    "Dense attention and its cost",
    "The lightning indexer",
    "Top-k selection and the causal trap",
    "Sparse attention",
    "Why 'dense, then mask' saves nothing",
    "FP8 and the indexer cache",
    "Training the indexer",
    "Cost at scale",
]


@pytest.fixture(scope="module")
def at():
    return make_app(page=PAGE)


def test_every_step_renders_with_formula_figure_and_source(at):
    steps = at.selectbox(key="learn_step").options
    assert steps == [f"{n}. {title}" for n, title in enumerate(TITLES, 1)]
    for n, name in enumerate(steps, 1):
        at.selectbox(key="learn_step").set_value(n).run()
        no_errors(at)
        assert at.latex, name  # the formula
        assert figures(at), name  # a live figure
        code = " ".join(c.value for c in at.code)
        assert "def " in code, name  # inspect.getsource of a dsa_core function


def test_next_button_advances(at):
    at.selectbox(key="learn_step").set_value(1).run()
    at.button(key="learn_next").click().run()
    no_errors(at)
    assert at.selectbox(key="learn_step").value == 2 and at.selectbox(key="learn_step").format_func(2) == (
        "2. The lightning indexer"
    )


def test_k_changes_the_causal_trap_row():
    at = make_app(page=PAGE, k=16)
    at.selectbox(key="learn_step").set_value(3).run()
    no_errors(at)
    assert any("9 real positions and 7 empty slots" in m.value for m in at.markdown)


def test_training_step_shows_the_recorded_evaluation_of_the_shipped_indexers(at):
    import json
    import pathlib

    at.selectbox(key="learn_step").set_value(7).run()
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
    at.selectbox(key="learn_step").set_value(2).run()
    no_errors(at)
    assert "here 4 × 64 dims" in " ".join(m.value for m in at.markdown)  # the shipped file's size


def test_sparse_attention_is_exactly_dense_from_k_equal_t_plus_one(at):
    at.selectbox(key="learn_step").set_value(4).run()
    no_errors(at)
    text = " ".join(m.value for m in at.markdown)
    assert "k ≥ t + 1" in text and "With k ≥ t it" not in text  # query t sees t + 1 keys


def test_cost_at_scale_prices_dsa_in_mqa_mode_against_dense_in_mha_mode(at):
    """The report and FlashMLA run DSA's sparse attention in MLA's MQA mode: the prefill crossover is
    about 16K tokens (docs/cost.md), not the 3.7K of pricing both sides in MHA mode."""
    from dsa_core.cost import flops as cost

    at.selectbox(key="learn_step").set_value(8).run()
    no_errors(at)
    fig = next(f for f in figures(at) if "MQA mode" in str(f["layout"].get("title")))
    assert "dense in MHA mode, DSA in MQA mode" in fig["layout"]["title"]["text"]
    cross = cost.crossover_sequence(cost.V32_MHA, cost.V32_MQA)
    assert 16_000 < cross < 16_500
    assert any(
        f"{cross:,.0f}" in (s.get("label", {}).get("text") or "") for s in fig["layout"]["shapes"]
    ) or any(f"{cross:,.0f}" in (a.get("text") or "") for a in fig["layout"].get("annotations", []))
    assert any(f"about {cross:,.0f} tokens" in c.value for c in at.caption)


def test_training_step_states_no_motive_the_report_does_not(at):
    at.selectbox(key="learn_step").set_value(7).run()
    text = " ".join(m.value for m in at.markdown)
    assert "Why DeepSeek trains the indexer at full length" not in text
    assert "the report gives no other reason" in text


def test_the_masked_steps_formula_names_the_bars_it_draws(at):
    """Step 5's bars are dense, masked dense + indexer and DSA: the formula prices each of them."""
    at.selectbox(key="learn_step").set_value(5).run()
    formula = " ".join(x.value for x in at.latex)
    assert "masked dense + indexer" in formula and "dense/masked" not in formula
    bars = next(f for f in figures(at) if "Cost on your text" in str(f["layout"].get("title")))
    assert "masked dense + indexer" in str(bars["data"])
