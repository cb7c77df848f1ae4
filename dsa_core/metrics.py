"""How good is a selection? Recall of the true attention mass, overlap between sets, and baselines.

Recall (what we measure; the indexer is NOT trained on it: paper section 2.1 trains it with a KL
loss to the head-summed, L1-normalised attention, and recall is the share of that same distribution
its top-k holds): for query t, recall[t] = Σ_{s ∈ S_t} p[t,s], where p is the true dense attention
averaged over heads (each head's row sums to 1, so p's row does too). Recall 1 means the sparse layer
loses nothing.
Baselines use the same budget of k tokens: the oracle (the k largest p, the best any selector can do),
a sliding window with attention sinks (StreamingLLM-style), and random causal picks.
Not in the official code (it has no metrics); these are the numbers the lessons and evaluate.py show.
All index tensors follow select_topk's format: [.., S, K] int64, best first, -1 = empty slot.
"""

import torch

from dsa_core.dense import attention_probs, causal_mask
from dsa_core.pipeline import row_blocks
from dsa_core.topk import select_topk, topk_mask


def attention_recall(probs_mean, topk_indices):
    """Attention mass inside the selected set, per query.

    probs_mean [B,S,T] or [S,T], topk_indices [B,S,K] or [S,K] -> [B,S] or [S].
    """
    picked = probs_mean.float().gather(-1, topk_indices.clamp(min=0))  # -1 reads slot 0 ... [B, S, K]
    return picked.masked_fill(topk_indices < 0, 0.0).sum(-1)  # ... and is zeroed [B, S]


def topk_overlap(a_idx, b_idx):
    """Share of a's selection also in b's, per query, ignoring -1: [.., S, K] twice -> [.., S] in [0, 1].

    The denominator is the larger number of valid slots of the two (k once a row sees k keys).
    """
    T = int(max(a_idx.max(), b_idx.max())) + 1
    a = topk_mask(a_idx.reshape(-1, *a_idx.shape[-2:]), T)  # any leading dims flattened [N, S, T]
    b = topk_mask(b_idx.reshape(-1, *b_idx.shape[-2:]), T)  # [N, S, T]
    both = (a & b).sum(-1).float()  # [N, S]
    size = torch.maximum(a.sum(-1), b.sum(-1)).clamp(min=1).float()  # [N, S]
    return (both / size).reshape(a_idx.shape[:-1])  # [.., S]


def oracle_topk(probs_mean, k):
    """The ideal selection, the k largest true attention weights per query.

    probs_mean [B,S,T] or [S,T] -> [B,S,k] or [S,k].
    """
    p = probs_mean.float()
    squeeze = p.dim() == 2
    p = p[None] if squeeze else p  # [B, S, T]
    S, T = p.shape[-2:]
    p = p.masked_fill(
        ~causal_mask(S, T, p.device), float("-inf")
    )  # zero weight in the future is not "visible"
    idx = select_topk(p, k)  # [B, S, k]
    return idx[0] if squeeze else idx


def window_topk(T, k, n_sinks=4):
    """Attention sinks (the first n_sinks tokens) plus the most recent tokens, k in all.

    -> int64 [T, k], positions ascending, -1 where fewer than k are visible.
    """
    if k <= 0 or n_sinks < 0:
        raise ValueError(f"k must be positive and n_sinks non-negative, got k={k}, n_sinks={n_sinks}")
    n_sinks = min(n_sinks, k)
    t = torch.arange(T)[:, None]  # [T, 1]
    slot = torch.arange(k)[None, :]  # [1, k]
    recent = t - (k - n_sinks) + 1 + (slot - n_sinks)  # the last k - n_sinks positions up to t [T, k]
    idx = torch.where(slot < n_sinks, slot, recent)  # [T, k]
    short = t + 1 <= k  # a short prefix: everything visible, in order
    idx = torch.where(short, slot.expand(T, k), idx)  # [T, k]
    return idx.masked_fill(idx > t, -1)


def random_topk(T, k, seed=0):
    """k random visible positions per query (all of them when fewer than k): -> int64 [T, k], -1 = empty."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.rand(1, T, T, generator=g)  # [1, T, T]
    scores = scores.masked_fill(~causal_mask(T, T), float("-inf"))
    return select_topk(scores, k)[0]  # [T, k]


def dense_maps(q, k, per_head=False, progress=None, rows=256):
    """Dense causal attention in query blocks: q [T,H,D], k [T,H_kv,D] -> ([H,T,T] or None, [T,T]).

    The head-mean p (second) is what recall measures and what the indexer learns to imitate.
    """
    T, H = q.shape[0], q.shape[1]
    probs = torch.zeros(H, T, T, device=q.device) if per_head else None  # [H,T,T]
    mean = torch.zeros(T, T, device=q.device)  # [T,T]
    for s0, s1, end in row_blocks(T, T, rows):
        p = attention_probs(q[None, s0:s1], k[None, :end])[0]  # keys after the block are masked [H,c,end]
        mean[s0:s1, :end] = p.mean(0)
        if per_head:
            probs[:, s0:s1, :end] = p
        if progress:
            progress(s1 / T)
    return probs, mean
