"""The per-layer probes of an indexer evaluation (train/evaluate.py builds its report from them).

For one layer of one text, with p = the head-mean dense attention (what the indexer imitates):
recall Σ_{s∈S_t} p[t,s] of the indexer's top-k, of the oracle (the k largest p: the ceiling), of the
window (4 sinks + the latest k-4 tokens) and of k random causal keys, and overlap = |indexer ∩ oracle| / k;
also the oracle as a selection in the model (a reference perplexity).
"""

import functools

import torch

from dsa_core.metrics import attention_recall, dense_maps, oracle_topk, random_topk, topk_overlap, window_topk
from dsa_core.pipeline import select, top_k
from dsa_core.train.positions import by_position

LAYER_KEYS = ("recall_indexer", "recall_oracle", "recall_window", "recall_random", "overlap")


def dense_mean(q, k):
    """Head-mean dense causal attention: q [1,T,H,D], k [1,T,H_kv,D] -> [T,T]."""
    return dense_maps(q[0], k[0])[1]  # [T, T]


def indexer_topk(indexer, x, k):
    """The indexer's selection for every query (the reference functions): x [1,T,dim] -> [T,K]."""
    return select(indexer, x, top_k(k))[0][0]  # [T, K]


@functools.lru_cache(maxsize=8)
def _random_topk(T, k, seed):
    return random_topk(T, k, seed=seed)  # [T, K] (drawn on the CPU: cached, 8,192² draws take seconds)


def layer_metrics(mean, idx, k, seed=0):
    """The five per-layer numbers for one text, and the bucket recalls: mean [T,T], indexer idx [T,K]
    -> dict of floats, plus "by_position": {bucket: {key: float}} over the buckets that hold queries."""
    T, dev = mean.shape[0], mean.device
    rows = torch.arange(T, device=dev) + 1 > k  # queries whose top-k drops something
    oracle = oracle_topk(mean, k)  # [T, K]
    picks = {
        "recall_indexer": idx.to(dev),
        "recall_oracle": oracle,
        "recall_window": window_topk(T, k).to(dev),
        "recall_random": _random_topk(T, k, seed).to(dev),
    }
    recall = {name: attention_recall(mean, sel) for name, sel in picks.items()}  # {name: [T]}
    out = {name: r[rows].mean().item() for name, r in recall.items()}
    out["overlap"] = topk_overlap(picks["recall_indexer"], oracle)[rows].mean().item()
    out["by_position"] = by_position(recall, rows)
    return out


def oracle_select(topk):
    """Reference selection for perplexity: each layer keeps the k keys with the most head-mean dense
    attention (the oracle of recall_oracle), the best a shared top-k set can do by that measure."""

    def select(attn, x, q, k):
        return torch.stack(
            [
                oracle_topk(dense_mean(q[b : b + 1], k[b : b + 1]), min(topk, x.shape[1]))
                for b in range(x.shape[0])
            ]
        )  # [B, T, K]

    return select
