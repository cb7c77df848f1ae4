"""Where an evaluation or a training run computes: the CPU (default) or a CUDA GPU.

The chunked helpers (sparse.py's gathered attention, the indexer's score blocks where present) size
their blocks for a CPU cache; on a GPU those blocks are far too small to keep it busy, so a run there
raises them. Results do not depend on the block sizes (tests/core check the chunked paths against
the unchunked ones).
"""

import torch


def on_device(model, device):
    """Move the model (indexers attached) to device; on a GPU, larger blocks in the chunked helpers
    (their CPU-cache-sized defaults are far too small there; results do not depend on them)."""
    model.to(device)
    if torch.device(device).type == "cuda":
        from dsa_core import indexer, sparse

        for module, name in ((sparse, "CHUNK_ELEMENTS"), (indexer, "BLOCK_ELEMENTS")):
            if hasattr(module, name):
                setattr(module, name, 2**26)
    return model


def device_name(device):
    """ "cpu (N threads)" or the GPU's name, for the report."""
    if torch.device(device).type == "cuda":
        return torch.cuda.get_device_name(torch.device(device))
    return f"cpu ({torch.get_num_threads()} threads)"


def load_on(model_source, indexers_path, device):
    """What the evaluation commands start with: the model (None = the embedded SmolLM2) with the
    indexers of indexers_path (None = the shipped file) attached, moved to device -> LoadedModel."""
    from dsa_core.host.indexers import load_default_indexers
    from dsa_core.host.load import load_model

    loaded = load_model(model_source)
    load_default_indexers(loaded.model, indexers_path)
    on_device(loaded.model, device)
    return loaded
