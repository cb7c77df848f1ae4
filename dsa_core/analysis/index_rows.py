"""Index scores of a long text without the [T, T] map: rows recomputed from the trace's x on demand.

At 8,192 tokens a layer's index-score map is 268 MB of float32, as large as its dense attention map.
The app keeps only the dense map per analysis (trace_layers(..., keep_index_map=False)); whatever
needs index scores asks for rows: `index_rows(rec, s0, s1)` (torch, for rankings and the Learn page's
numbers) or `ScoreRows(rec)` (numpy, where the figures index `scores[t]` or pool a map block-row by
block-row). A block of rows costs one projection of x and one matrix product
(fast.cpu.index_scores_fast, the tested twin of indexer.index_scores): a whole map is about a second
at 8,192 tokens on two cores, one row a few milliseconds. `index_map(indexer, x)` builds the whole map
block by block (what trace_layers keeps for short texts).
"""

import numpy as np
import torch

from dsa_core.fast.cpu import index_scores_fast
from dsa_core.pipeline import row_blocks, select


@torch.no_grad()
def projected(rec):
    """The layer's indexer inputs for the whole text: (q [1,T,h,d], k [1,T,d], w [1,T,h]), 8 MB at 8,192."""
    if rec.indexer is None:
        raise ValueError("this layer has no indexer: it has no index scores")
    return rec.indexer.project(rec.x[None])


@torch.no_grad()
def index_rows(rec, s0, s1, proj=None):
    """Rows s0..s1-1 of the layer's index scores: the stored map's rows, or recomputed from x with the
    layer's indexer (proj: projected(rec), when the caller keeps it). -> fp32 [s1-s0, T], -inf after
    each query's position."""
    if rec.index_scores is not None:
        return rec.index_scores[s0:s1]
    qi, ki, w = projected(rec) if proj is None else proj  # [1,T,h,d], [1,T,d], [1,T,h]
    T = ki.shape[1]
    out = torch.full((s1 - s0, T), float("-inf"))  # [s1-s0, T]
    out[:, :s1] = index_scores_fast(qi[:, s0:s1], ki[:, :s1], w[:, s0:s1])[0]  # keys a block can see
    return out


class ScoreRows:
    """A [T, T] index-score map that is never stored whole: `scores[t]` is row t and `scores[a:b]` rows
    a..b-1 (numpy float32, computed by index_rows), `np.asarray(scores)` the whole map (only where a
    figure needs it). viz.pool reads it one block-row at a time (it looks for `rows_of`)."""

    def __init__(self, rec):
        self.rec, self.proj = rec, None
        T = rec.x.shape[0]
        self.shape, self.ndim, self.dtype = (T, T), 2, np.dtype(np.float32)

    def __len__(self):
        return self.shape[0]

    def rows_of(self, s0, s1):
        if self.proj is None and self.rec.index_scores is None:
            self.proj = projected(self.rec)  # once: every later block of rows reuses it
        return index_rows(self.rec, s0, s1, self.proj).numpy()  # [s1-s0, T]

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            t = int(key) % self.shape[0]
            return self.rows_of(t, t + 1)[0]  # [T]
        if isinstance(key, slice) and key.step in (None, 1):
            s0, s1, _ = key.indices(self.shape[0])
            return self.rows_of(s0, max(s0, s1))  # [s1-s0, T]
        return np.asarray(self)[key]

    def __array__(self, dtype=None, copy=None):
        T = self.shape[0]
        out = np.concatenate([self.rows_of(s0, s1) for s0, s1, _ in row_blocks(T, T)])
        return out if dtype is None else out.astype(dtype)


def keep_scores(T):
    """A pipeline pick that keeps the block's scores, padded with -inf to T keys: [1,s,end] -> [1,s,T]."""
    return lambda scores, end: torch.nn.functional.pad(scores, (0, T - end), value=float("-inf"))


@torch.no_grad()
def index_map(indexer, x, progress=None):
    """Index scores of one layer through the selection pipeline, keeping every score: x [T,dim] -> [T,T]
    (-inf above the diagonal). Scored by indexer.index_scores' one-matmul twin fast.cpu.index_scores_fast
    (equal to float rounding, tests/fast/test_cpu_twins.py): about half the time (benchmarks/cpu_paths.py)."""
    T = x.shape[0]
    scores, _ = select(indexer, x[None], keep_scores(T), index_scores_fast, rows=256, progress=progress)
    return scores[0]  # [T, T]
