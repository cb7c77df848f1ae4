"""One server for a class: who may load which model (DSA_MODEL_FOLDERS), no server path in a message,
one model's load never stalls the tabs on another, and no outside call or all-interfaces bind by default."""

import pathlib
import threading
import time

import pytest
from apphelp import ROOT, make_app, tiny_hf_folder

from dsa_core.host.text import DSAUserError
from lessons import models


def _sidebar_errors(at):
    return " ".join(e.value for e in at.sidebar.error)


def test_class_mode_default_offers_no_model_box_and_refuses_a_forged_path(monkeypatch):
    monkeypatch.setenv("DSA_MODEL_FOLDERS", "off")
    at = make_app(max_tokens=64)
    assert not at.exception and not [t for t in at.text_input if t.key == "model_path"]
    at = make_app(max_tokens=64, model_path="/etc/passwd")  # as if sent without the box
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "Loading other models is switched off on this server" in warnings and "/etc" not in warnings
    assert at.slider(key="layer").max == 29  # the embedded model


@pytest.mark.parametrize("typed", ["../../etc", "/etc", "/etc/passwd", "/dev/zero", "~", "..", "missing"])
def test_a_teachers_folder_admits_only_its_own_models(tmp_path, monkeypatch, typed):
    root = tmp_path / "class-models"
    root.mkdir()
    monkeypatch.setenv("DSA_MODEL_FOLDERS", str(root))
    at = make_app(max_tokens=64, model_path=typed)
    assert not at.exception
    err = _sidebar_errors(at)
    assert "is not a model in this server" in err, err
    assert str(tmp_path) not in err and str(pathlib.Path.home()) not in err


def test_a_model_in_the_teachers_folder_loads_by_its_name_and_errors_name_no_server_path(
    tmp_path, monkeypatch
):
    root = tmp_path / "class-models"
    tiny_hf_folder(root / "tiny-llama", n_layers=3, n_heads=4)
    (root / "broken").mkdir()
    monkeypatch.setenv("DSA_MODEL_FOLDERS", str(root))
    at = make_app(max_tokens=64, k=8, model_path="tiny-llama")
    assert not at.exception and not at.sidebar.error
    assert at.slider(key="layer").max == 2
    at = make_app(max_tokens=64, model_path="broken")
    err = _sidebar_errors(at)
    assert "broken/config.json is missing" in err and str(tmp_path) not in err


def test_messages_spell_the_home_folder_as_tilde_and_show_markdown_characters(tmp_path, monkeypatch):
    monkeypatch.delenv("DSA_MODEL_FOLDERS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}')
    at = make_app(max_tokens=64, model_path="~/m")
    err = _sidebar_errors(at)
    assert str(tmp_path) not in err and r"config.json lacks 'hidden\_size'" in err  # \_: shown as _
    (tmp_path / "w").mkdir()
    cfg = tiny_hf_folder(tmp_path / "src").joinpath("config.json").read_text()
    (tmp_path / "w" / "config.json").write_text(cfg)
    at = make_app(max_tokens=64, model_path="~/w")
    assert r"No \*.safetensors weights in \~/w" in _sidebar_errors(at)  # shown, not turned into bold


def test_loading_one_model_never_stalls_tabs_on_another(monkeypatch):
    """Each model has its own load lock: while a slow folder model loads, the embedded one is served."""
    from dsa_core.host import indexers

    release, started = threading.Event(), threading.Event()

    def slow_load(source, progress=None):
        if source == "slow":
            started.set()
            release.wait(20)
            raise DSAUserError("slow model failed.", "try again.")
        return ("embedded model", "note")

    monkeypatch.setattr(indexers, "load_with_indexers", slow_load)
    models._registry.clear()
    try:
        worker = threading.Thread(target=lambda: pytest.raises(DSAUserError, models._load, "slow"))
        worker.start()
        assert started.wait(10)
        t0 = time.perf_counter()
        assert models._load(None) == ("embedded model", "note")
        assert time.perf_counter() - t0 < 1.0
        release.set()
        worker.join(20)
    finally:
        release.set()
        models._registry.clear()  # the next test loads the real model again


def test_the_shipped_config_binds_locally_and_makes_no_outside_call(monkeypatch):
    """Streamlit's own start-up code, with our .streamlit/config.toml: no public-IP look-up
    (checkip.amazonaws.com), one local URL; class mode's flags (a chosen address) keep it so."""
    from streamlit import config, net_util
    from streamlit.web import bootstrap

    calls = []
    monkeypatch.setattr(net_util, "get_external_ip", lambda: calls.append("checkip") or None)
    monkeypatch.chdir(ROOT)
    try:
        config.get_config_options(force_reparse=True)
        assert config.get_option("server.address") == "localhost"
        assert config.get_option("browser.gatherUsageStats") is False
        assert config.get_option("server.runOnSave") is False
        assert config.get_option("server.fileWatcherType") == "none"
        bootstrap._print_url(False)
        assert calls == []
        for key, value in [("server.address", "0.0.0.0"), ("browser.serverAddress", "192.0.2.7")]:
            config.set_option(key, value, "command-line")  # what scripts/app.sh --class --bind 0.0.0.0 passes
        bootstrap._print_url(False)
        assert calls == []
    finally:
        config.get_config_options(force_reparse=True)
