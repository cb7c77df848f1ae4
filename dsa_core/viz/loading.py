"""The app's and notebooks' model loader: a model plus one lightning indexer per layer, and a sentence
saying which indexers they are (trained ones when they fit the model, else seeded untrained ones)."""
from dataclasses import replace

import torch


def load_with_indexers(source=None, progress=None):
    """(LoadedModel with a lightning indexer in every layer, a sentence naming them).

    source: None (the embedded SmolLM2-135M), a .gguf file or a local Hugging Face folder
    (dsa_core.weights.load_model; its DSAUserError says what is wrong and how to fix it).
    progress(fraction, message): called while a first GGUF conversion runs, then once at the end.
    The shipped trained indexers (dsa_core.indexer_weights) are used when their sizes fit the model;
    otherwise seeded, untrained ones are attached and the sentence says so (the word UNTRAINED), so
    no page presents noise as learned.
    """
    from ..config import SMOLLM2_HOST
    from ..indexer import LightningIndexer
    from ..model import attach_indexers
    from ..weights import load_model
    say = progress or (lambda frac, msg: None)
    loaded = load_model(source, progress=lambda f, m: say(0.95 * f, m))
    cfg, n = loaded.model.cfg, len(loaded.model.layers)
    say(0.97, "attaching the lightning indexers")
    try:
        from .. import indexer_weights
        indexers, icfg, meta = indexer_weights.load_indexers(indexer_weights.DEFAULT_PATH)
        if icfg.dim != cfg.dim or len(indexers) != n or any(i is None for i in indexers):
            raise ValueError(f"the shipped indexers are for {meta.get('host', 'SmolLM2-135M')}, not this model")
        note = (f"trained lightning indexers ({icfg.index_n_heads} heads × {icfg.index_head_dim} dims, "
                "stage-1 dense warm-up, assets/indexers/)")
    except Exception as e:  # noqa: BLE001 - not shipped, or for another model: fall back, and say so
        torch.manual_seed(0)
        base = replace(SMOLLM2_HOST, dim=cfg.dim, n_layers=n, rope_theta=cfg.rope_theta)
        indexers = [LightningIndexer(base) for _ in range(n)]
        why = ("no trained indexers exist for this model (the shipped ones are for SmolLM2-135M)"
               if isinstance(e, ValueError) else "trained ones are not installed")
        note = (f"UNTRAINED lightning indexers (random weights, seed 0): {why}, so the indexer's picks are "
                "close to random. Train one on the Train page.")
    attach_indexers(loaded.model, [i.eval() for i in indexers])
    say(1.0, "ready")
    return loaded, note
