"""Rank once, then every budget k is a slice: the app's selections at any k without another T x T pass.

`select_topk` orders each row by score (best first, ties to the lower position, -1 where nothing is
visible). That order is total, so the first k of `select_topk(scores, m)` are exactly
`select_topk(scores, k)` for every k <= m. With m = T (the whole row) every k is a slice: `rank_*`
call the reference functions (`select_topk`, `metrics.oracle_topk`; random: its row-block twin) once per
text, row block by row block (a query block ending at s1 sees keys 0..s1-1 only), and store the
result compactly (int16 positions below 32,768 tokens: [T, T] is 134 MB at 8,192 tokens).
`picks(ranked, k)` is then a view, never a copy. Tested equal in tests/app/test_ranked.py.
A ranking may stop at a depth D < T ([T, D]: 17 MB instead of 134 MB at 8,192 tokens with D = 1,024);
then every k <= D is a slice, and the app ranks the whole row only when a larger k is asked for.

`pool_picks` pools a selection map straight from its [T, K] picks (what viz.prepare_map gives for the
scattered [T, T] map, tested equal), so no T x T map is ever built per k.
"""

import functools

import numpy as np
import torch
import torch.nn.functional as F

from dsa_core.dense import causal_mask
from dsa_core.fast.cpu import index_scores_fast, select_topk_fast
from dsa_core.fast.rows import random_ranked_rows
from dsa_core.metrics import oracle_topk
from dsa_core.pipeline import row_blocks, select
from dsa_core.topk import select_topk
from dsa_core.viz.pool import block_edges, future_to_nan

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


def _top(scores, k, depth):
    """select_topk, or with a depth its partial twin fast.cpu.select_topk_fast (the same picks, tested
    in tests/fast/test_cpu_twins.py): scores [B,S,T] -> [B,S,k]."""
    return (select_topk if depth is None else select_topk_fast)(scores, k)


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


@functools.lru_cache(maxsize=8)
def _visible_per_block(T, max_side):
    """Cells with key <= query in each (row block, column block) of a causal T x T map: [n, n] (read-only)."""
    edges = block_edges(T, max_side)
    widths = np.diff(np.append(edges, T))
    per_row = np.clip(np.arange(1, T + 1)[:, None] - edges[None, :], 0, widths[None, :])  # [T, n]
    out = np.add.reduceat(per_row, edges, axis=0)
    out.flags.writeable = False
    return out


def _zoomed(t, s, v, T, zoom):
    size = int(max(1, min(zoom[1], T)))
    lo = int(min(max(0, zoom[0]), T - size))
    z = np.zeros((size, size), np.float32)
    inside = (t >= lo) & (t < lo + size) & (s >= lo) & (s < lo + size)
    z[t[inside] - lo, s[inside] - lo] = v[inside]
    pos = np.arange(lo, lo + size, dtype=np.float32)
    return {
        "z": future_to_nan(z),
        "rows": pos,
        "cols": pos,
        "note": f"zoom: positions {lo}–{lo + size - 1} at full resolution",
    }


def pool_picks(idx, values, T, max_side, how="max", zoom=None, row0=0):
    """prepare_map(scatter of values at idx, max_side, how, zoom) without the [T,T] map.

    idx [S,K] picks of queries row0..row0+S-1 (-1 ignored, never in the future), values [S,K] or a
    scalar -> {"z", "rows", "cols", "note"}. With row0 > 0 or S < T (pooled only), row0 and S must
    cover whole row blocks and z holds just their pooled rows (stack the parts with np.concatenate)."""
    idx = np.asarray(idx)
    vals = np.broadcast_to(np.asarray(values, np.float32), idx.shape)
    rows = np.broadcast_to(np.arange(row0, row0 + idx.shape[0])[:, None], idx.shape)
    ok = idx >= 0
    t, s, v = rows[ok], idx[ok].astype(np.int64), vals[ok]
    if zoom is not None:
        return _zoomed(t, s, v, T, zoom)
    edges = block_edges(T, max_side)
    n, b = len(edges), (int(edges[1]) if len(edges) > 1 else 1)
    r0, r1 = row0 // b, min(n, -(-(row0 + idx.shape[0]) // b))  # pooled rows covered
    cell = (t // b - r0) * n + s // b  # flat block index within the covered rows
    visible = _visible_per_block(T, max_side)[r0:r1]  # [r,n]
    size = (r1 - r0) * n
    if how == "mean":
        z = np.bincount(cell, weights=v, minlength=size).reshape(-1, n) / np.maximum(visible, 1)
    elif how == "max":
        count = np.bincount(cell, minlength=size).reshape(-1, n)
        if np.ndim(values) == 0:  # one value for every pick
            z = np.where(count > 0, np.float64(values), -np.inf)
        else:  # block maxima (scatter_reduce: 10x np.maximum.at)
            z = torch.full((size,), float("-inf"), dtype=torch.float64)
            z = z.scatter_reduce_(0, torch.from_numpy(cell), torch.from_numpy(v).double(), "amax")
            z = z.numpy().reshape(-1, n)
        z = np.where(count >= visible, z, np.maximum(z, 0.0))  # a block not fully picked has a 0 cell
    else:
        raise ValueError(f"how must be 'max' or 'mean', got {how!r}")
    z = np.where(visible > 0, z, np.nan).astype(np.float32)
    note = "" if n == T else f"{how}-pooled blocks of {b} tokens"
    return {"z": z, "rows": edges.astype(np.float32), "cols": edges.astype(np.float32), "note": note}
