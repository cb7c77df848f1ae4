"""The Train page: the stage-1 generator runs live, curves appear, recall improves on the training text."""

from apphelp import SHORT, figures, make_app, no_errors

PAGE = "lessons/train.py"


def test_training_runs_and_shows_before_and_after():
    at = make_app(text=(SHORT + " ") * 6, max_tokens=128, k=8, page=PAGE)
    no_errors(at)
    at.slider(key="train_steps").set_value(30).run()
    at.button(key="train_go").click().run()
    no_errors(at)
    bars = [f for f in figures(at) if "Attention-mass recall" in str(f["layout"].get("title"))]
    assert bars, "no before/after figure"
    x = bars[0]["data"][0]["x"]
    from apphelp import decode

    before, after = decode(x)[:2]
    assert after > before  # training on this text helps on this text
    assert "After training" in " ".join(m.value for m in at.markdown)


def test_nothing_to_learn_when_k_covers_the_text():
    at = make_app(k=4096, page=PAGE)
    no_errors(at)
    assert any("nothing" in w.value for w in at.warning)


def test_fine_tuning_the_shipped_indexer_also_runs():
    at = make_app(text=(SHORT + " ") * 6, max_tokens=128, k=8, page=PAGE)
    at.radio(key="train_start").set_value("the shipped trained indexer (fine-tune it on this text)").run()
    at.slider(key="train_steps").set_value(10).run()
    at.button(key="train_go").click().run()
    no_errors(at)
    assert "After training" in " ".join(m.value for m in at.markdown)
