"""Rank once, then every budget k is a slice: the app's selections at any k without another T x T pass.

`select_topk` orders each row by score (best first, ties to the lower position, -1 where nothing is
visible). That order is total, so the first k of `select_topk(scores, m)` are exactly
`select_topk(scores, k)` for every k <= m. With m = T (the whole row) every k is a slice: `rank_*`
call the reference functions (`select_topk`, `metrics.oracle_topk`; random: its row-block twin) once per
text, row block by row block (a query block ending at s1 sees keys 0..s1-1 only), and store the
result compactly (int16 positions below 32,768 tokens: [T, T] is 134 MB at 8,192 tokens).
`picks(ranked, k)` is then a view, never a copy. Tested equal in tests/analysis/test_ranked.py.
A ranking may stop at a depth D < T ([T, D]: 17 MB instead of 134 MB at 8,192 tokens with D = 1,024);
then every k <= D is a slice, and the app ranks the whole row only when a larger k is asked for.
"""

import torch
import torch.nn.functional as F

from dsa_core.dense import causal_mask
from dsa_core.fast.cpu import index_scores_fast, select_topk_fast
from dsa_core.fast.rows import random_ranked_rows
from dsa_core.metrics import oracle_topk
from dsa_core.pipeline import row_blocks, select
from dsa_core.topk import select_topk

ROWS = 1024  # query rows per block when ranking: transient memory O(ROWS * T)


def compact(idx, T):
    """Positions stored in the smallest integer type that holds them (-1 included)."""
    return idx.to(torch.int16 if T < 2**15 else torch.int32)


def _rank_rows(fn, T, rows=ROWS, progress=None, depth=None):
    """Concatenate fn(s0, s1, width) -> [s1-s0, width] picks over row blocks into [T, depth or T]
    (compact, -1 padded). width = min(depth, s1): a block ending at s1 sees keys 0..s1-1 only."""
    D = T if depth is None else int(min(depth, T))
    out = torch.full((T, D), -1, dtype=compact(torch.zeros(0), T).dtype)  # [T,D]
    for s0, s1, _ in row_blocks(T, T, rows):
        block = fn(s0, s1, min(D, s1))  # [s1-s0, min(D, s1)]
        out[s0:s1, : block.shape[1]] = compact(block, T)
        if progress:
            progress(s1 / T)
    return out


def topk_fn(depth):
    """The top-k a ranking runs: select_topk over whole rows, or with a depth its partial twin
    fast.cpu.select_topk_fast (the same picks, tested in tests/fast/test_cpu_twins.py)."""
    return select_topk if depth is None else select_topk_fast


def _top(scores, k, depth):
    """topk_fn(depth)(scores, k): scores [B,S,T] -> [B,S,k]."""
    return topk_fn(depth)(scores, k)


def rank_scores(scores, progress=None, rows=ROWS, depth=None):
    """Every row of a [T,T] score map ranked: select_topk(scores[None], T)[0] -> compact [T,T].
    depth: keep only the best `depth` of each row ([T, depth]: every k <= depth is still a slice)."""
    return _rank_rows(
        lambda s0, s1, n: _top(scores[None, s0:s1, :s1], n, depth)[0], len(scores), rows, progress, depth
    )


def rank_index(rec, progress=None, rows=ROWS, depth=None):
    """rank_scores of a trace's index scores: the stored map, or (no map kept) the selection pipeline
    scoring x block by block with a ranking pick: the same ranking without a [T, T] float map."""
    if rec.index_scores is not None:
        return rank_scores(rec.index_scores, progress, rows, depth)
    T = len(rec.tokens)
    D = T if depth is None else int(min(depth, T))

    def pick(scores, end):  # one block's ranking, -1 padded to D columns: [1,s,end] -> [1,s,D]
        top = _top(scores, min(D, end), depth)  # [1, s, min(D, end)]
        return compact(F.pad(top, (0, D - top.shape[-1]), value=-1), T)

    ranked, _ = select(rec.indexer, rec.x[None], pick, index_scores_fast, rows, progress=progress)
    return ranked[0]  # [T, D]


def rank_oracle(probs, progress=None, rows=ROWS, depth=None):
    """The ideal top-k at every k: oracle_topk(probs, T) -> compact [T,T] (probs: dense attention [T,T]);
    with a depth, the best `depth` only (oracle_topk's masked row, ranked by select_topk_fast)."""

    def block(s0, s1, n):
        if depth is None:
            return oracle_topk(probs[s0:s1, :s1], n)
        future = ~causal_mask(s1 - s0, s1)  # as oracle_topk: zero weight in the future is not visible
        return select_topk_fast(probs[None, s0:s1, :s1].float().masked_fill(future, float("-inf")), n)[0]

    return _rank_rows(block, len(probs), rows, progress, depth)


def rank_random(T, seed=0, progress=None, rows=ROWS, depth=None):
    """The random baseline at every k: metrics.random_topk(T, T, seed) -> compact [T,T] (depends on T
    only), drawn by its row-block twin fast.rows.random_ranked_rows (the full draw is 1.3 GB at 8,192);
    with a depth, the first `depth` picks of each row."""
    blocks = random_ranked_rows(T, seed, rows, depth)
    return _rank_rows(lambda s0, s1, n: next(blocks)[2], T, rows, progress, depth)


def picks(ranked, k):
    """The picks at budget k (k <= T): the first k columns of a ranking, a view -> [T, k] (-1 = empty)."""
    return ranked[:, : int(k)]


def rows_long(picks_, s0, s1):
    """Rows s0..s1-1 of picks as int64 (the dtype the reference metrics gather with)."""
    return torch.as_tensor(picks_[s0:s1]).long()
