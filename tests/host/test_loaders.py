"""Loaders on tiny random checkpoints: GGUF (with llama.cpp's Q/K permutation) and HF folders."""

import pytest
import tiny
import torch

from dsa_core.host import load as weights
from dsa_core.host.load import load_model
from dsa_core.host.text import DSAUserError, ModelFileError, UnsupportedModelError

TEXT = "the cat sat in a hat, then ran"


def _same_logits(lm, ref):
    ids = torch.tensor([lm.tokenizer.encode(TEXT).ids])  # [1,T]
    with torch.no_grad():
        torch.testing.assert_close(lm.model(ids), ref(ids).logits, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("tie", [False, True])
def test_gguf_file_loads_to_the_same_logits_as_its_source_model(tmp_path, tie):
    ref = tiny.tiny_hf_model("llama", tie=tie)
    seen = []
    lm = load_model(
        tiny.write_tiny_gguf(ref, tmp_path / "t.gguf"),
        cache_dir=tmp_path / "c",
        progress=lambda f, msg: seen.append(f),
    )
    _same_logits(lm, ref)
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)


def test_second_load_reads_the_cache_not_the_gguf(tmp_path, monkeypatch):
    path = tiny.write_tiny_gguf(tiny.tiny_hf_model(), tmp_path / "t.gguf")
    load_model(path, cache_dir=tmp_path / "c")
    monkeypatch.setattr(weights, "convert_gguf", lambda *a, **k: pytest.fail("converted twice"))
    load_model(path, cache_dir=tmp_path / "c")


def test_a_killed_conversion_leaves_no_cache_and_the_next_load_works(tmp_path, monkeypatch):
    ref = tiny.tiny_hf_model()
    path = tiny.write_tiny_gguf(ref, tmp_path / "t.gguf")

    def killed(*a, **k):
        raise KeyboardInterrupt

    import safetensors.torch

    with monkeypatch.context() as m:
        m.setattr(safetensors.torch, "save_file", killed)
        with pytest.raises(KeyboardInterrupt):
            load_model(path, cache_dir=tmp_path / "c")
    assert list((tmp_path / "c").iterdir()) == []  # neither a cache nor a temp folder
    _same_logits(load_model(path, cache_dir=tmp_path / "c"), ref)


def test_a_damaged_cache_is_rebuilt(tmp_path):
    ref = tiny.tiny_hf_model()
    path = tiny.write_tiny_gguf(ref, tmp_path / "t.gguf")
    load_model(path, cache_dir=tmp_path / "c")
    st = next((tmp_path / "c").glob("*/model.safetensors"))
    st.write_bytes(st.read_bytes()[:100])
    _same_logits(load_model(path, cache_dir=tmp_path / "c"), ref)


@pytest.mark.parametrize(
    "arch,tie,shard", [("llama", False, "40KB"), ("qwen2", True, None), ("mistral", False, None)]
)
def test_hf_folder_loads_to_the_same_logits(tmp_path, arch, tie, shard):
    ref = tiny.tiny_hf_model(arch, tie=tie)
    _same_logits(load_model(tiny.save_hf_folder(ref, tmp_path / arch, shard)), ref)


def test_bad_model_sources_raise_clear_errors(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "nope.gguf")
    (tmp_path / "junk.gguf").write_bytes(b"not a gguf file at all")
    with pytest.raises(ModelFileError, match="not a readable GGUF"):
        load_model(tmp_path / "junk.gguf", cache_dir=tmp_path / "c")
    folder = tiny.save_hf_folder(tiny.tiny_hf_model(), tmp_path / "hf")
    (folder / "tokenizer.json").unlink()
    with pytest.raises(ModelFileError, match="tokenizer.json"):
        load_model(folder)
    for f in folder.glob("*.safetensors"):
        f.write_bytes(b"\x00" * 10)
    with pytest.raises(ModelFileError, match="safetensors"):
        load_model(folder)


def test_unsupported_architectures_name_the_problem_and_the_fix(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=300)).save_pretrained(
        tmp_path / "g"
    )
    with pytest.raises(UnsupportedModelError, match="GPT2LMHeadModel") as e:
        load_model(tmp_path / "g")
    assert "Fix:" in str(e.value) and isinstance(e.value, DSAUserError)
    scaled = tiny.tiny_hf_model(
        rope_parameters={
            "rope_type": "llama3",
            "rope_theta": 500000.0,
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 128,
        }
    )
    with pytest.raises(UnsupportedModelError, match="llama3"):
        load_model(tiny.save_hf_folder(scaled, tmp_path / "l3"))


def test_the_fused_dense_step_equals_the_dense_attention_oracle(monkeypatch):
    from dsa_core.dense import dense_attention
    from dsa_core.host import model as model_py
    from dsa_core.host.hf import hf_config

    ref = tiny.tiny_hf_model("qwen2")
    model = weights.build_model(
        hf_config(ref.config.to_dict() | {"architectures": ["Qwen2ForCausalLM"]}),
        {k.removeprefix("model."): v for k, v in ref.state_dict().items()},
    )
    ids = torch.randint(0, model.cfg.vocab_size, (2, 40))  # [B,T]
    with torch.no_grad():
        fused = model(ids)
        monkeypatch.setattr(model_py, "fused_dense_attention", dense_attention)
        torch.testing.assert_close(model(ids), fused, atol=1e-5, rtol=1e-5)


def test_an_unwritable_cache_folder_gives_a_clear_error(tmp_path):
    path = tiny.write_tiny_gguf(tiny.tiny_hf_model(), tmp_path / "t.gguf")
    (tmp_path / "file").write_text("a file, not a folder")
    with pytest.raises(ModelFileError, match="DSA_CACHE_DIR"):
        load_model(path, cache_dir=tmp_path / "file" / "cache")
