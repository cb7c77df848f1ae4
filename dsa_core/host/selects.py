"""Baseline selections for the model's plug-in point, with the same budget K as DSA.

Each returns select(attn, x, q, k) -> [B,T,K] positions, K = min(topk, T) (more slots would all be -1),
for host.model.Attention; DeepSeek's own selection, dsa_select, is in dsa_core/dsa.py.
"""

from dsa_core.metrics import random_topk, window_topk


def window_select(topk, n_sinks=4):
    """Baseline with the same budget: the first n_sinks tokens + the most recent ones."""

    def select(attn, x, q, k):
        return (
            window_topk(x.shape[1], min(topk, x.shape[1]), n_sinks).to(x.device).expand(x.shape[0], -1, -1)
        )  # [B,T,K]

    return select


def random_select(topk, seed=0):
    """Baseline with the same budget: K causal keys drawn at random (seeded per layer)."""

    def select(attn, x, q, k):
        T = x.shape[1]
        return (
            random_topk(T, min(topk, T), seed + attn.layer_id).to(x.device).expand(x.shape[0], -1, -1)
        )  # [B,T,K]

    return select
