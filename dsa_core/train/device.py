"""Where an evaluation or a training run computes: the CPU (default) or a CUDA GPU.

The model runs the same code on either; only where it lives changes.
"""

import torch


def on_device(model, device):
    """Move the model (indexers attached) to device. On a GPU the model's sparse attention runs the
    reference (all queries at once: the GPU has the memory; the CPU twin's cache-sized chunks would
    starve it); results do not depend on it (tests/fast/test_cpu_twins.py)."""
    model.to(device)
    if torch.device(device).type == "cuda":
        for block in model.layers:
            block.self_attn.fast = False
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
