"""Tiny random checkpoints for fast loader tests: a byte-level tokenizer, HF folders and a GGUF file."""

import numpy as np
import torch

from dsa_core.host.tokenizer import _BYTES, tokenizer_from_fields

SPECIAL = "<|endoftext|>"
MERGES = ["Ġ t", "h e", "Ġt he", "i n", "Ġ a"]


def tiny_vocab():
    """(tokens, merges, token_types): one special token, the 256 byte characters, a few merges."""
    tokens = [SPECIAL] + sorted(_BYTES, key=_BYTES.get) + [m.replace(" ", "") for m in MERGES]
    return tokens, MERGES, [3] + [1] * (len(tokens) - 1)


def tiny_tokenizer():
    tokens, merges, types = tiny_vocab()
    return tokenizer_from_fields(tokens, merges, types, pre=None)


def tiny_hf_model(arch="llama", tie=False, seed=0, **extra):
    """A randomly initialised transformers causal LM of the given family (eager attention, fp32)."""
    import transformers

    cls = {"llama": "Llama", "qwen2": "Qwen2", "mistral": "Mistral"}[arch]
    cfg = getattr(transformers, f"{cls}Config")(
        vocab_size=len(tiny_vocab()[0]),
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        rms_norm_eps=1e-6,
        tie_word_embeddings=tie,
        **extra,
    )
    torch.manual_seed(seed)
    model = getattr(transformers, f"{cls}ForCausalLM")(cfg).eval()
    with torch.no_grad():  # random biases / norms, so a missed bias or norm would show
        for name, p in model.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)
            elif name.endswith("bias"):
                p.normal_(0.0, 0.5)
    model.config._attn_implementation = "eager"
    return model


def save_hf_folder(model, folder, shard=None):
    """save_pretrained (optionally sharded) + our tokenizer.json, as `hf download` would leave it."""
    model.save_pretrained(folder, max_shard_size=shard) if shard else model.save_pretrained(folder)
    tiny_tokenizer().save(str(folder / "tokenizer.json"))
    return folder


def _llama_cpp_permute(w, n_head):
    """llama.cpp convert_hf_to_gguf.py LlamaModel.permute: rotate-half rows -> interleaved rows."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_tiny_gguf(model, path):
    """Write a transformers Llama model as llama.cpp would: F32 tensors, Q/K permuted, tokenizer fields."""
    import gguf

    c = model.config
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(c.num_hidden_layers)
    w.add_context_length(c.max_position_embeddings)
    w.add_embedding_length(c.hidden_size)
    w.add_feed_forward_length(c.intermediate_size)
    w.add_head_count(c.num_attention_heads)
    w.add_head_count_kv(c.num_key_value_heads)
    w.add_rope_freq_base(float(c.rope_parameters["rope_theta"]))
    w.add_layer_norm_rms_eps(c.rms_norm_eps)
    w.add_rope_dimension_count(c.hidden_size // c.num_attention_heads)
    w.add_vocab_size(c.vocab_size)
    tokens, merges, types = tiny_vocab()
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(0)
    w.add_eos_token_id(0)
    names = {
        "embed_tokens": "token_embd",
        "norm": "output_norm",
        "lm_head": "output",
        "input_layernorm": "attn_norm",
        "post_attention_layernorm": "ffn_norm",
        "self_attn.q_proj": "attn_q",
        "self_attn.k_proj": "attn_k",
        "self_attn.v_proj": "attn_v",
        "self_attn.o_proj": "attn_output",
        "mlp.gate_proj": "ffn_gate",
        "mlp.up_proj": "ffn_up",
        "mlp.down_proj": "ffn_down",
    }
    sd = model.state_dict()
    if c.tie_word_embeddings:
        sd.pop("lm_head.weight")
    for name, t in sd.items():
        a = t.float().numpy().copy()
        name = name.removeprefix("model.")
        if name.startswith("layers."):
            _, i, rest = name.split(".", 2)
            part, kind = rest.rsplit(".", 1)
            if part == "self_attn.q_proj":
                a = _llama_cpp_permute(a, c.num_attention_heads)
            elif part == "self_attn.k_proj":
                a = _llama_cpp_permute(a, c.num_key_value_heads)
            gname = f"blk.{i}.{names[part]}.{kind}"
        else:
            part, kind = name.rsplit(".", 1)
            gname = f"{names[part]}.{kind}"
        w.add_tensor(gname, np.ascontiguousarray(a, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
