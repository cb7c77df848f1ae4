"""The sidebar's model: ranges from the loaded model's config; a local Hugging Face folder; bad folders."""

from apphelp import make_app, no_errors, tiny_hf_folder


def _heads(at):
    return list(at.selectbox(key="head").options)


def test_ranges_come_from_the_embedded_models_config():
    at = make_app(max_tokens=64)
    no_errors(at)
    assert at.slider(key="layer").max == 29 and len(_heads(at)) == 10  # SmolLM2-135M: 30 layers, 9 heads


def test_a_local_folder_model_sets_the_ranges_and_says_its_indexers_are_untrained(tmp_path):
    folder = tiny_hf_folder(tmp_path / "tiny-llama", n_layers=3, n_heads=4)
    at = make_app(model_path=str(folder), max_tokens=64, k=8, head="head 7")  # layer 10, head 7: out of range
    no_errors(at)
    assert at.slider(key="layer").max == 2 and at.slider(key="layer").value == 2
    assert _heads(at) == ["mean of heads", "head 0", "head 1", "head 2", "head 3"]
    assert at.selectbox(key="head").value == "mean of heads"
    assert any("no trained indexers exist for this model" in i.value for i in at.info)
    text = " ".join(m.value for m in at.markdown)
    assert "the indexer kept **8**" in text and "mean of the 4 heads" in text
    at = at.text_input(key="model_path").set_value("").run()  # back to the embedded model
    no_errors(at)
    assert at.slider(key="layer").max == 29 and len(_heads(at)) == 10


def test_a_bad_folder_gives_the_problem_and_the_fix_and_the_app_keeps_working(tmp_path):
    (tmp_path / "empty").mkdir()
    for path, problem in [
        (tmp_path / "missing", "does not exist"),
        (tmp_path / "empty", "config.json is missing"),
    ]:
        at = make_app(model_path=str(path), max_tokens=64)
        assert not at.exception
        errors = [e.value for e in at.sidebar.error]
        assert errors and problem in errors[0] and "Carrying on with the embedded SmolLM2-135M" in errors[0]
        assert any("Sidebar → Model" in w.value for w in at.warning)
        assert "the indexer kept **16**" in " ".join(m.value for m in at.markdown)  # the embedded model
        assert at.slider(key="layer").max == 29


def test_first_load_reports_progress_to_the_end(tmp_path, monkeypatch):
    """A first GGUF conversion calls progress with rising fractions up to 1.0 (the app draws a bar)."""
    import sys

    from apphelp import ROOT

    from dsa_core.host.indexers import load_with_indexers

    sys.path.insert(0, str(ROOT / "tests" / "host"))
    import tiny

    monkeypatch.setenv("DSA_CACHE_DIR", str(tmp_path / "cache"))
    path = tiny.write_tiny_gguf(tiny.tiny_hf_model(), tmp_path / "tiny.gguf")
    seen = []
    loaded, note = load_with_indexers(path, progress=lambda f, msg: seen.append((f, msg)))
    fractions = [f for f, _ in seen]
    assert (
        len(seen) >= 4 and fractions == sorted(fractions) and fractions[-1] == 1.0 and 0 <= fractions[0] < 0.5
    )
    assert all(isinstance(m, str) and m for _, m in seen) and "UNTRAINED" in note
