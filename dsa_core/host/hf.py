"""Load a Llama-family checkpoint from a local Hugging Face folder (config.json + *.safetensors).

Supported: LlamaForCausalLM (SmolLM2, Llama 2/3 without rope scaling, TinyLlama), MistralForCausalLM
(within its sliding window), Qwen2ForCausalLM (Qwen2/2.5, q/k/v biases). The folder is what
`hf download <id> --local-dir DIR` writes; sharded checkpoints (model.safetensors.index.json) load too.
Anything else raises UnsupportedModelError / ModelFileError naming the problem and the fix.
Source: transformers `configuration_llama.py`, `configuration_qwen2.py` (field names and defaults).
"""

import json
from pathlib import Path

from dsa_core.host.text import ModelFileError, UnsupportedModelError

ARCHITECTURES = {"LlamaForCausalLM": "llama", "MistralForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2"}
_REQUIRED = ("hidden_size", "num_attention_heads", "num_hidden_layers", "vocab_size", "intermediate_size")
_HELP = "Use a Llama, Mistral, Qwen2 or SmolLM2 checkpoint folder (config.json + *.safetensors)."


def _read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError as e:
        raise ModelFileError(f"{path} is missing.", _HELP) from e
    except (ValueError, UnicodeDecodeError) as e:
        raise ModelFileError(f"{path} is not valid JSON ({e}).", "Download the folder again.") from e


def hf_config(raw):
    """A Hugging Face config.json dict -> ModelConfig fields; unsupported features raise clearly."""
    if not isinstance(raw, dict):
        raise ModelFileError("config.json does not hold a JSON object.", "Download the folder again.")
    arch = (raw.get("architectures") or ["?"])[0]
    if arch not in ARCHITECTURES:
        raise UnsupportedModelError(f"Architecture {arch!r} is not supported by dsa_core's model.", _HELP)
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise ModelFileError(
            f"config.json lacks {', '.join(map(repr, missing))}.", "Download the folder again."
        )
    rope = {**(raw.get("rope_parameters") or {}), **(raw.get("rope_scaling") or {})}  # 5.x / 4.x spelling
    kind = rope.get("rope_type", rope.get("type", "default"))
    if kind not in ("default", None):
        raise UnsupportedModelError(
            f"RoPE scaling {kind!r} (e.g. Llama 3.1+) is not implemented here.",
            "Use a checkpoint without rope_scaling (Llama 3.0, SmolLM2, Qwen2.5).",
        )
    if (
        raw.get("hidden_act", "silu") != "silu"
        or raw.get("mlp_bias")
        or (ARCHITECTURES[arch] == "llama" and raw.get("attention_bias"))
    ):
        raise UnsupportedModelError("This checkpoint uses a non-SwiGLU MLP or extra biases.", _HELP)
    dim, n_heads = raw["hidden_size"], raw["num_attention_heads"]
    max_len = raw.get("max_position_embeddings", 2048)
    window = (
        raw.get("sliding_window") if raw.get("use_sliding_window", arch == "MistralForCausalLM") else None
    )
    return dict(
        arch=ARCHITECTURES[arch],
        vocab_size=raw["vocab_size"],
        dim=dim,
        n_layers=raw["num_hidden_layers"],
        n_heads=n_heads,
        n_kv_heads=raw.get("num_key_value_heads") or n_heads,
        head_dim=raw.get("head_dim") or dim // n_heads,
        hidden_dim=raw["intermediate_size"],
        rope_theta=float(raw.get("rope_theta", rope.get("rope_theta", 10000.0))),
        norm_eps=float(raw.get("rms_norm_eps", 1e-6)),
        max_seq_len=min(max_len, window) if window else max_len,  # Mistral: stay inside its window
        qkv_bias=ARCHITECTURES[arch] == "qwen2",
        tie_embeddings=bool(raw.get("tie_word_embeddings", False)),
    )


def _weight_map_files(index):
    """The shard names a model.safetensors.index.json lists (its weight_map's values)."""
    raw = _read_json(index)
    files = raw.get("weight_map") if isinstance(raw, dict) else None
    if not isinstance(files, dict) or not files or not all(isinstance(f, str) for f in files.values()):
        raise ModelFileError(f"{index.name} has no weight_map of shard names.", "Download the folder again.")
    return sorted(set(files.values()))


def _shards(folder):
    index = folder / "model.safetensors.index.json"
    if index.exists():
        return [folder / f for f in _weight_map_files(index)]
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        fix = (
            "This folder has only PyTorch .bin weights: re-download with safetensors, or convert them."
            if list(folder.glob("*.bin"))
            else _HELP
        )
        raise ModelFileError(f"No *.safetensors weights in {folder}.", fix)
    return files


def hf_state_dict(folder):
    """{name: tensor} from every safetensors shard, with the 'model.' prefix removed."""
    from safetensors.torch import load_file

    sd = {}
    for f in _shards(Path(folder)):
        try:
            part = load_file(str(f))
        except FileNotFoundError as e:
            raise ModelFileError(
                f"Shard {f.name} listed in the index is missing.", "Download it again."
            ) from e
        except Exception as e:  # safetensors raises its own error types for truncated files
            raise ModelFileError(
                f"{f.name} is not a readable safetensors file ({e}).", "Download it again."
            ) from e
        sd.update({k.removeprefix("model."): v for k, v in part.items()})
    return sd


def hf_tokenizer(folder):
    """The folder's tokenizer.json as a `tokenizers.Tokenizer`."""
    from tokenizers import Tokenizer

    path = Path(folder) / "tokenizer.json"
    if not path.exists():
        raise ModelFileError(
            f"{path} is missing (dsa_core needs a 'fast' tokenizer file).",
            "Download tokenizer.json too, or save it with AutoTokenizer.save_pretrained.",
        )
    try:
        return Tokenizer.from_file(str(path))
    except Exception as e:
        raise ModelFileError(f"{path} could not be read ({e}).", "Download tokenizer.json again.") from e


def check_inside(folder, root):
    """Refuse a folder that would make the loader open a file outside `root` (a teacher's model folder,
    docs/class_mode.md): an index naming '../x' or '/x', or a config, tokenizer, index or shard that is a
    link leading out. Every file the loader opens is checked, the index before it is read. Messages name
    the file as the folder names it, never a path of the server."""
    folder, root = Path(folder), Path(root).resolve()

    def inside(name):
        path = folder / name
        try:
            out = not path.resolve().is_relative_to(root)
        except (OSError, ValueError) as e:  # a NUL byte, a name too long, a link loop
            raise ModelFileError(f"{name[:60]!r} in {folder.name} is not a usable file name.", _HELP) from e
        if out:
            raise ModelFileError(
                f"{folder.name}/{name} leads outside the model folder.",
                "Copy the file into the model's folder instead of linking to it, and name shards by "
                "their file name only.",
            )
        return path

    fixed = ("config.json", "tokenizer.json", "model.safetensors.index.json")
    for name in fixed:
        inside(name)
    index = folder / "model.safetensors.index.json"
    shards = _weight_map_files(index) if index.exists() else [p.name for p in folder.glob("*.safetensors")]
    for name in shards:
        inside(name)


def read_hf_folder(folder):
    """(ModelConfig fields, state dict, tokenizer) from a local Hugging Face folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelFileError(f"{folder} is not a folder.", _HELP)
    cfg = hf_config(_read_json(folder / "config.json"))
    return cfg, hf_state_dict(folder), hf_tokenizer(folder)
