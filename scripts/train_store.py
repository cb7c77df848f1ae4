"""Shared by the training scripts: read the teacher store (scripts/data_teacher.py) and score indexers on it.

load_store(split, layers, n) -> {layer: float16 tensor [N, T, dim]} (memory-mapped, only filled windows)
val_metrics(model, indexers, store, k) -> {layer: the five evaluate.py numbers, mean over windows}
"""

import pathlib

import numpy as np
import torch

from dsa_core.train.evaluate import average
from dsa_core.train.probes import dense_mean, indexer_topk, layer_metrics
from dsa_core.train.stage1 import main_qk

ROOT = pathlib.Path(__file__).resolve().parents[1]
STORE = ROOT / "data" / "teacher"


def filled(split):
    """Windows written so far (all of them once the `done` file exists)."""
    d = STORE / split
    if (d / "done").exists():
        return int((d / "done").read_text())
    x = np.load(d / "x_29.npy", mmap_mode="r")  # the last layer is written last for each window
    return int(sum(np.abs(x[i, :8]).sum() > 0 for i in range(len(x))))


def load_store(split, layers, n=None, extra=()):
    """{layer: float16 tensor [N, T, dim]} from data/teacher/<split> (+ extra splits, concatenated)."""
    out = {}
    for layer in layers:
        parts = []
        for s in (split, *extra):
            m = filled(s) if n is None or s != split else min(n, filled(s))
            parts.append(
                torch.from_numpy(np.load(STORE / s / f"x_{layer:02d}.npy", mmap_mode="r")[:m].copy())
            )
        out[layer] = torch.cat(parts)
    return out


@torch.no_grad()
def val_metrics(model, indexers, store, k=128):
    """Mean over the stored windows of recall_indexer/oracle/window/random and overlap (and the
    by-position recalls), per layer, on the device the store and model live on."""
    out = {}
    for layer, indexer in indexers.items():
        rows = []
        for x in store[layer]:
            x = x[None].float()  # [1, T, dim]
            q, key = main_qk(model, layer, x)
            rows.append(layer_metrics(dense_mean(q, key), indexer_topk(indexer, x, k), k))
        out[layer] = average(rows)
    return out
