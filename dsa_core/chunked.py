"""Indexer scores and top-k selection computed one block of queries at a time: never a T×T matrix.

Same result as `select_topk(index_scores(q, k, w), topk)`, but only a [B, chunk, T] slice of scores
exists at any moment, so memory is O(chunk·T + T·K) and T = 32768 fits in a few GB. A query block
that ends at position p only needs keys 0..p, which also halves the work of a causal prefill.
Paper: DeepSeek-V3.2-Exp report, section 2.1 (the indexer stays O(L²) in compute, not in memory).
Official: the demo scores the whole prefill at once (`Indexer.forward`, which only supports
`start_pos = 0`); production kernels (DeepGEMM `fp8_mqa_logits`) take per-query key ranges [ks, ke)
in the same spirit. Left out: FP8 and the fused top-k of those kernels.
"""

import torch

from dsa_core.indexer import index_scores
from dsa_core.topk import select_topk


def chunked_index_topk(q, k, w, topk, chunk=256, select=select_topk, score=index_scores):
    """Top-k of the index scores, one query block at a time; equals select_topk(index_scores(q, k, w), topk).

    q [B,S,h,d], k [B,T,d], w [B,S,h] -> int64 [B,S,topk]. `select` is the top-k step: the reference
    select_topk, or a twin with the same contract (dsa.dsa_select passes fast.cpu.select_topk_fast);
    `score` likewise (the app's long runs pass fast.cpu.index_scores_fast).
    """
    if not isinstance(chunk, int) or chunk <= 0:
        raise ValueError(f"chunk must be a positive int, got {chunk!r}")
    S = q.shape[1]
    T = k.shape[1]
    if S > T:
        raise ValueError(f"more queries (S={S}) than keys (T={T})")
    blocks = []
    for s0 in range(0, S, chunk):
        s1 = min(s0 + chunk, S)
        end = T - S + s1  # one past the position of the block's last query: later keys are all masked
        scores = score(q[:, s0:s1], k[:, :end], w[:, s0:s1])  # [B, s, end]
        blocks.append(select(scores, topk))  # indices are absolute: keys start at 0 [B, s, topk]
    return torch.cat(blocks, dim=1)  # [B, S, topk]
