"""What each layer of the host model may attend to: DSA's selection and same-budget baselines.

Each factory returns select(attn, x, q, k) -> [B,T,K] positions, K = min(topk, T) (more slots would
all be -1), for host.model.Attention's plug-in point. dsa_select is DeepSeek-V3.2-Exp's: the layer's
own lightning indexer scores the past and top-k keeps the best K (dsa_core/pipeline.py, which walks
the queries block by block so no T × T matrix is built).
"""

from dsa_core.fast.cpu import select_topk_fast
from dsa_core.indexer import index_scores
from dsa_core.metrics import random_topk, window_topk
from dsa_core.pipeline import select, top_k
from dsa_core.topk import select_topk


def dsa_select(topk, fast=True):
    """DSA in every layer: the layer's indexer -> top-k. fast=False runs the reference functions."""

    def pick_keys(attn, x, q, k):
        if attn.indexer is None:
            raise ValueError(f"layer {attn.layer_id} has no indexer; call attach_indexers() first")
        K = min(topk, x.shape[1])
        if fast:  # the partial top-k of dsa_core/fast/cpu.py, bitwise equal to select_topk: same picks
            picks, _ = select(attn.indexer, x, top_k(K, select_topk_fast), score=index_scores)
        else:  # the reference: Eq. 1 head by head, a stable sort (Eq. 2)
            picks, _ = select(attn.indexer, x, top_k(K, select_topk), score=index_scores)
        return picks  # [B, T, K]

    return pick_keys


def window_select(topk, n_sinks=4):
    """Baseline with the same budget: the first n_sinks tokens + the most recent ones."""

    def pick_keys(attn, x, q, k):
        T = x.shape[1]
        return window_topk(T, min(topk, T), n_sinks).to(x.device).expand(x.shape[0], -1, -1)  # [B,T,K]

    return pick_keys


def random_select(topk, seed=0):
    """Baseline with the same budget: K causal keys drawn at random (seeded per layer)."""

    def pick_keys(attn, x, q, k):
        T = x.shape[1]
        return random_topk(T, min(topk, T), seed + attn.layer_id).to(x.device).expand(x.shape[0], -1, -1)

    return pick_keys
