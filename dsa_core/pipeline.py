"""The selection pipeline: indexer -> top-k for every query, one block of queries at a time.

Formula (paper Eq. 1 and 2), block by block: for the queries s0..s1-1 (positions up to end - 1),
I[t, :end] = score(q_t, k[:end], w_t), then S_t = pick(I[t, :end]). A query block that ends at
position end - 1 only needs keys 0..end-1 (later keys are all in its future), so a causal prefill
does half the work of a square map, and only a [B, rows, T] slice of scores ever exists: memory
O(rows·T + T·K) instead of O(T²).

This file is the one place in dsa_core that walks query blocks to score and pick keys
(tests/test_layering.py keeps it so). Everything that selects keys calls it: the model's DSA layer
(host/selects.py), decoding (S = 1 against a key cache), every DSA family member (a score function
and a pick function, dsa_core/family/), the evaluation probes, stage-2 recording, the app's rankings
and index-score rows, the cost stopwatch and the fast path's CPU fallback.

  score(q, k, w) -> [B, s, n]   Eq. 1 (indexer.index_scores), or pooled keys, or a tested twin
  pick(scores, end) -> [B, s, K] Eq. 2 (top_k(K) below), block top-n, ..., or keep the scores (a map)

Paper: DeepSeek-V3.2-Exp report, section 1, Eq. 1-2. Official: the demo scores the whole prefill at once
(deepseek-ai/DeepSeek-V3.2-Exp `inference/model.py`, `Indexer.forward`); production kernels
(DeepGEMM `fp8_mqa_logits`) take per-query key ranges [ks, ke) in the same spirit.
"""

import torch

from dsa_core.indexer import index_scores
from dsa_core.topk import select_topk

ROWS = 1024  # queries per block: the one block size of the selection (4 heads x 1,024 x 8,192 fp32 = 128 MB)


def row_blocks(S, T, rows=ROWS):
    """Blocks of the S queries that are the last S of T tokens: yields (s0, s1, end); keys < end visible."""
    if not isinstance(rows, int) or rows <= 0:
        raise ValueError(f"rows must be a positive int, got {rows!r}")
    if S > T:
        raise ValueError(f"more queries (S={S}) than keys (T={T})")
    for s0 in range(0, S, rows):
        s1 = min(s0 + rows, S)
        yield s0, s1, T - S + s1  # one past the position of the block's last query


def top_k(k, select=select_topk):
    """The pick of Eq. 2: the k best scores of each row, best first, -1 where nothing is visible."""
    return lambda scores, end: select(scores, k)  # [B, s, k]


def select_keys(q, k, w, pick, score=index_scores, rows=ROWS, progress=None):
    """pick(score(...)) block by block: q [B,S,h,d], k [B,T,d], w [B,S,h] -> [B, S, ...] (pick's width).

    The S queries are the last S of the T keys' tokens (S = T in prefill, S = 1 when decoding).
    progress(fraction) is called after each block (the app's progress bar and Cancel).
    """
    S, T = q.shape[1], k.shape[1]
    out = []
    for s0, s1, end in row_blocks(S, T, rows):
        scores = score(q[:, s0:s1], k[:, :end], w[:, s0:s1])  # the block's visible keys [B, s, end]
        out.append(pick(scores, end))  # [B, s, K]
        if progress:
            progress(s1 / S)
    return torch.cat(out, dim=1)  # [B, S, K]


def index_topk(q, k, w, topk, rows=ROWS):
    """= select_topk(index_scores(q, k, w), topk) without the [B, S, T] map: -> int64 [B, S, topk]."""
    return select_keys(q, k, w, top_k(topk), rows=rows)  # [B, S, topk]


def select(indexer, x, pick, score=index_scores, rows=ROWS, qr=None, start_pos=0, grow=None, progress=None):
    """The whole job for S new tokens: project x once, then select_keys. x [B,S,dim] -> (picks [B,S,K],
    index keys [B,T,d]). Decoding: start_pos is the position of x's first token (the tokens cached before
    it), and grow(k_new [B,S,d]) stores the new index keys after the cached ones and returns all T of them
    (host/model.py, LayerCache.append_index: a buffer written in place, as the official Indexer.k_cache).
    Prefill: start_pos 0 and no grow, T = S."""
    q, k, w = indexer.project(x, qr, start_pos=start_pos)  # [B,S,h,d], [B,S,d], [B,S,h]
    if grow is not None:
        k = grow(k)  # the cached keys and the S new ones [B, T, d]
    return select_keys(q, k, w, pick, score, rows, progress), k  # [B, S, K], [B, T, d]
