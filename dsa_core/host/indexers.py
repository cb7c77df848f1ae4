"""Trained lightning indexers on disk: one safetensors file holds every layer's indexer and its sizes.

Tensor names follow the official checkpoint (`model.layers.{i}.self_attn.indexer.{wq_b,wk,k_norm,
weights_proj}`, DeepSeek-V3.2-Exp on Hugging Face) minus the "model." prefix; values are float16
(loaded as float32). The metadata carries the DSAConfig fields that shape the indexer, the host model
it was trained for, and a one-line recipe, so a file cannot be attached to the wrong model silently.
The shipped file is assets/indexers/smollm2_stage1.safetensors (stage 1, see its MODEL_CARD.md);
smollm2_compressed_c4.safetensors beside it holds indexers trained for the compressed-keys member
(keys mean-pooled over c = 4 tokens, dsa_core/family/train.py), same shape, for that member only.
"""

import functools
import json
from dataclasses import asdict, replace
from pathlib import Path

import torch

from dsa_core.config import SMOLLM2_HOST, DSAConfig
from dsa_core.indexer import LightningIndexer

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "assets" / "indexers" / "smollm2_stage1.safetensors"
COMPRESSED_PATH = DEFAULT_PATH.parent / "smollm2_compressed_c4.safetensors"  # trained for pooled keys
COMPRESSED_C = 4  # the only group size COMPRESSED_PATH was trained for
SHAPE_FIELDS = (
    "dim",
    "q_lora_rank",
    "index_n_heads",
    "index_head_dim",
    "index_rope_head_dim",
    "index_topk",
    "rope_theta",
)


def save_indexers(path, indexers, cfg, host, recipe=""):
    """Write {layer: LightningIndexer} (or a list) for host model `host` (e.g. its GGUF name)."""
    from safetensors.torch import save_file

    items = indexers.items() if isinstance(indexers, dict) else enumerate(indexers)
    tensors = {
        f"layers.{i}.self_attn.indexer.{name}": p.detach().to("cpu", torch.float16).contiguous()
        for i, ix in items
        for name, p in ix.state_dict().items()
    }
    shape = {f: asdict(cfg)[f] for f in SHAPE_FIELDS}
    shape["index_rope_head_dim"] = cfg.index_rope_dim  # the resolved width, never the 0 default
    meta = {
        "config": json.dumps(shape),
        "host": host,
        "recipe": recipe,
        "n_layers": str(1 + max(int(k.split(".")[1]) for k in tensors)),
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=meta)


def load_indexers(path, base=SMOLLM2_HOST):
    """Read a file written by save_indexers -> ([LightningIndexer or None per layer], DSAConfig, metadata)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k).float() for k in f.keys()}
    shape = json.loads(meta["config"])
    if not shape.get("index_rope_head_dim"):  # files written while 0 meant index_head_dim // 2
        shape["index_rope_head_dim"] = shape["index_head_dim"] // 2
    cfg: DSAConfig = replace(base, **shape)
    indexers = [None] * int(meta["n_layers"])
    for i in range(len(indexers)):
        prefix = f"layers.{i}.self_attn.indexer."
        sd = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        if sd:
            indexers[i] = LightningIndexer(cfg)
            indexers[i].load_state_dict(sd)
            indexers[i].requires_grad_(False).eval()
    return indexers, cfg, meta


@functools.lru_cache(maxsize=4)
def cached_indexers(path, device="cpu"):
    """load_indexers(path)'s indexers on `device`, read once per process: (LightningIndexer or None,) per
    layer. For a family member that scores with its own weights (e.g. COMPRESSED_PATH)."""
    return tuple(None if i is None else i.to(device) for i in load_indexers(path)[0])


def recorded_evaluation(tokens=8192):
    """What the shipped indexers measured, as recorded beside them, at `tokens` (8192 or 2048):
    ({k: evaluate.py --json report}, {run name: {"before", "after"} held-out perplexities of stage 2,
    run at 8,192 tokens}); ({}, {}) when the files are absent."""
    here = DEFAULT_PATH.parent
    pattern = "eval_k*.json" if tokens == 2048 else f"eval_{tokens}_k*.json"
    paths = [p for p in here.glob(pattern) if p.stem.split("_k")[1].isdigit()]  # not the comparison file
    evals = {int(p.stem.split("_k")[1]): json.loads(p.read_text()) for p in paths}
    stage2 = json.loads((here / "stage2.json").read_text()) if (here / "stage2.json").exists() else {}
    return dict(sorted(evals.items())), stage2


def load_default_indexers(model, path=None):
    """Attach the shipped stage-1 indexers to a SmolLM2 `model.Transformer`; returns the list (one per layer).

    Raises ValueError when the file's sizes do not match the model (another host model).
    """
    from dsa_core.host.model import attach_indexers

    indexers, cfg, meta = load_indexers(path or DEFAULT_PATH)
    if cfg.dim != model.cfg.dim or len(indexers) != model.cfg.n_layers:
        raise ValueError(
            f"indexers in {path or DEFAULT_PATH} are for {meta['host']} (dim {cfg.dim}, "
            f"{len(indexers)} layers), not this model (dim {model.cfg.dim}, {model.cfg.n_layers} layers)"
        )
    attach_indexers(model, indexers)
    return indexers


def load_with_indexers(source=None, progress=None):
    """(LoadedModel with a lightning indexer in every layer, a sentence naming them).

    source: None (the embedded SmolLM2-135M), a .gguf file or a local Hugging Face folder
    (dsa_core.host.load.load_model; its DSAUserError says what is wrong and how to fix it).
    progress(fraction, message): called while a first GGUF conversion runs, then once at the end.
    The shipped trained indexers (dsa_core.host.indexers) are used when their sizes fit the model;
    otherwise seeded, untrained ones are attached and the sentence says so (the word UNTRAINED), so
    no page presents noise as learned.
    """
    from dsa_core.config import SMOLLM2_HOST
    from dsa_core.host.load import load_model
    from dsa_core.host.model import attach_indexers
    from dsa_core.indexer import LightningIndexer

    say = progress or (lambda frac, msg: None)
    loaded = load_model(source, progress=lambda f, m: say(0.95 * f, m))
    cfg, n = loaded.model.cfg, len(loaded.model.layers)
    say(0.97, "attaching the lightning indexers")
    try:
        from dsa_core.host import indexers as indexer_weights

        indexers, icfg, meta = indexer_weights.load_indexers(indexer_weights.DEFAULT_PATH)
        if icfg.dim != cfg.dim or len(indexers) != n or any(i is None for i in indexers):
            raise ValueError(
                f"the shipped indexers are for {meta.get('host', 'SmolLM2-135M')}, not this model"
            )
        note = f"trained lightning indexers ({icfg.index_n_heads} heads × {icfg.index_head_dim} dims, " + (
            "stage-1 dense warm-up at the model's full 8,192-token context, assets/indexers/"
        )
        held = recorded_evaluation(8192)[0].get(128)
        if held:  # measured, never typed: assets/indexers/eval_8192_k128.json
            m, p = held["mean"], held["perplexity"]
            note += (
                f"; on held-out text at {held['tokens']:,} tokens their top-128 holds "
                f"{m['indexer_over_oracle']:.1%} of the attention mass the ideal top-128 holds, they beat "
                f"the window in {m['layers_indexer_above_window']}/{len(held['layers'])} layers, and DSA in "
                f"every layer costs {100 * p['dsa_vs_dense']:+.1f} % perplexity (the ideal top-128: "
                f"{100 * (p['oracle'] / p['dense'] - 1):+.1f} %)"
            )
        note += ")"
    except Exception as e:  # noqa: BLE001 - not shipped, or for another model: fall back, and say so
        torch.manual_seed(0)
        base = replace(SMOLLM2_HOST, dim=cfg.dim, n_layers=n, rope_theta=cfg.rope_theta)
        indexers = [LightningIndexer(base) for _ in range(n)]
        why = (
            "no trained indexers exist for this model (the shipped ones are for SmolLM2-135M)"
            if isinstance(e, ValueError)
            else "trained ones are not installed"
        )
        note = (
            f"UNTRAINED lightning indexers (random weights, seed 0): {why}, so the indexer's picks are "
            "close to random. Train one on the Train page."
        )
    attach_indexers(loaded.model, [i.eval() for i in indexers])
    say(1.0, "ready")
    return loaded, note
