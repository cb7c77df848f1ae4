"""Class mode's folders, names and texts: with --models DIR every file a model folder names stays inside
DIR (an index naming ../../etc/passwd, links leading out); a model name of 256 bytes or more gets a
message; a pasted text stays private to its tab until its author shares it, and "Forget this text"
takes it off the server."""

import json
import os

import pytest
from apphelp import SHORT, make_app, tiny_hf_folder

from dsa_core.host import hf
from dsa_core.host.text import ModelFileError
from lessons import links


def _sidebar_errors(at):
    return " ".join(e.value for e in at.sidebar.error)


def _escaping_folders(root, outside):
    """Model folders inside root that would make the loader open `outside` (a file out of root)."""
    made = {}
    index = tiny_hf_folder(root / "index-escape")
    (index / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"embed_tokens.weight": "../../../../../../" + str(outside).lstrip("/")}})
    )
    made["index-escape"] = "leads outside the model folder"
    absolute = tiny_hf_folder(root / "index-absolute")
    (absolute / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"w": str(outside)}}))
    made["index-absolute"] = "leads outside the model folder"
    for name in ("tokenizer.json", "config.json", "model.safetensors"):
        folder = tiny_hf_folder(root / f"link-{name}")
        (folder / name).unlink()
        os.symlink(outside, folder / name)
        made[f"link-{name}"] = f"link-{name}/{name} leads outside the model folder"
    bad_map = tiny_hf_folder(root / "bad-map")
    (bad_map / "model.safetensors.index.json").write_text(json.dumps({"weight_map": ["x"]}))
    made["bad-map"] = "has no weight_map of shard names"
    return made


def test_every_file_a_model_folder_names_must_stay_inside_the_folder(tmp_path):
    root, outside = tmp_path / "class-models", tmp_path / "secret.txt"
    outside.write_text("not a model")
    root.mkdir()
    for name, problem in _escaping_folders(root, outside).items():
        with pytest.raises(ModelFileError, match=problem):
            hf.check_inside(root / name, root)
    ok = tiny_hf_folder(root / "ok")
    hf.check_inside(ok, root)  # a plain folder passes
    shared = tiny_hf_folder(root / "shares-a-tokenizer")  # a link to a file inside the folder is fine
    (shared / "tokenizer.json").unlink()
    os.symlink(ok / "tokenizer.json", shared / "tokenizer.json")
    hf.check_inside(shared, root)


def test_the_server_never_opens_a_file_a_folder_names_outside_dir(tmp_path, monkeypatch):
    root, outside = tmp_path / "class-models", tmp_path / "secret.txt"
    outside.write_text("not a model")
    root.mkdir()
    made = _escaping_folders(root, outside)
    opened = []
    real_state_dict, real_tokenizer = hf.hf_state_dict, hf.hf_tokenizer
    monkeypatch.setattr(hf, "hf_state_dict", lambda f: opened.append(f) or real_state_dict(f))
    monkeypatch.setattr(hf, "hf_tokenizer", lambda f: opened.append(f) or real_tokenizer(f))
    monkeypatch.setenv("DSA_MODEL_FOLDERS", str(root))
    for name, problem in made.items():
        at = make_app(max_tokens=64, k=8, model_path=name)
        assert not at.exception
        err = _sidebar_errors(at)
        shown = err.replace("\\_", "_")  # Markdown-escaped underscores read as plain ones
        assert problem in shown and "Carrying on with the embedded SmolLM2-135M" in err, (name, err)
        assert str(tmp_path) not in err  # no server path in the message
    assert not opened  # refused before any weight or tokenizer file was read


@pytest.mark.parametrize("policy", ["any", "folder"])
def test_a_model_name_of_256_bytes_or_more_gets_a_message(tmp_path, monkeypatch, policy):
    root = tmp_path / "class-models"
    root.mkdir()
    monkeypatch.setenv("DSA_MODEL_FOLDERS", "any" if policy == "any" else str(root))
    at = make_app(max_tokens=64, k=8)
    for typed in ("a" * 256, "é" * 200, "m/" + "b" * 300, "nul\x00byte"):
        at = at.text_input(key="model_path").set_value(typed).run()  # on_change runs _forget_error too
        assert not at.exception, (typed[:10], [e.value for e in at.exception])
        err = _sidebar_errors(at)
        assert "Carrying on with the embedded SmolLM2-135M" in err, err
        assert "too long for a model name" in err or "holds a NUL character" in err, err
        assert at.slider(key="layer").max == 29  # the embedded model keeps working


def _own_text(monkeypatch, text):
    monkeypatch.setenv("DSA_CLASS_MODE", "1")
    return make_app(text=text, k=8, page="lessons/cost.py")


def test_class_mode_keeps_a_pasted_text_private_until_its_author_shares_it(monkeypatch):
    text = SHORT + " Private."
    at = _own_text(monkeypatch, text)
    assert not at.exception
    assert "text" not in dict(at.query_params)  # not in the address bar
    assert links.recall(links.text_hash(text)) is None  # and not served to a link on this server
    assert any("Private to this tab" in c.value for c in at.sidebar.caption)
    link = at.sidebar.code[0].value
    assert links.text_hash(text) not in link
    at = at.button(key="share_text").click().run()  # on purpose
    assert dict(at.query_params)["text"] == links.text_hash(text)
    assert links.recall(links.text_hash(text)) == text
    assert any("Shared: anyone with this page's link" in c.value for c in at.sidebar.caption)
    at = at.button(key="forget_text").click().run()
    assert not at.exception
    assert links.recall(links.text_hash(text)) is None  # off the server's links
    assert at.session_state["text"] != text and at.session_state["own_text"] == ""  # out of this tab
    assert "text" not in dict(at.query_params) and dict(at.query_params)["sample"] == "contract"
    assert any("The text is forgotten" in s.value for s in at.sidebar.success)


def test_an_edited_shared_text_is_private_again(monkeypatch):
    at = _own_text(monkeypatch, SHORT + " One.")
    at = at.button(key="share_text").click().run()
    assert "text" in dict(at.query_params)
    at = at.text_area(key="text").set_value(SHORT + " Two.").run()
    assert "text" not in dict(at.query_params)
    assert links.recall(links.text_hash(SHORT + " Two.")) is None


def test_forget_drops_the_texts_cached_results_no_one_else_uses(monkeypatch):
    from lessons import cache

    monkeypatch.delenv("DSA_CLASS_MODE", raising=False)
    text = SHORT + " Forget me."
    at = make_app(text=text, k=8)  # Explore: the model runs on this text
    budget = cache.shared()[0]
    assert any(text in key for key in budget.entries)
    assert links.recall(links.text_hash(text)) == text  # on one's own machine the link just works
    at = at.button(key="forget_text").click().run()
    assert not at.exception
    assert not any(text in key for key in budget.entries)
    assert links.recall(links.text_hash(text)) is None
