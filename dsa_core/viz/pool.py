"""Make any T x T map small enough to draw: block pooling (max or mean) and full-resolution windows.

A browser draws about 600 px per map, and Plotly/Streamlit choke on multi-million-cell heatmaps, so no
figure in this project sends more than `MAX_SIDE` x `MAX_SIDE` cells. Max pooling keeps a lone selected
or strongly attended key visible; mean pooling shows how much of a block is covered. NaN marks the
causal future (s > t) and stays NaN only where a whole block is in the future. A map may be any
object with `shape`, `ndim`, `rows_of(s0, s1)` and row slicing (analysis/index_rows.ScoreRows): it
is then read one block-row at a time and never held whole.
"""

import numpy as np

MAX_SIDE = 512


def block_edges(n, max_side=MAX_SIDE):
    """Start index of each block when `n` positions are cut into equal blocks of b = ceil(n / max_side)
    positions (the last block may be shorter): at most `max_side` blocks."""
    if n <= 0:
        raise ValueError(f"cannot pool an empty axis (n={n})")
    return np.arange(0, n, -(-n // max(1, int(max_side))), dtype=np.int64)


def pool_matrix(z, max_side=MAX_SIDE, how="max", causal=False):
    """Pool a 2-D map [S,T] to at most max_side x max_side cells.

    Returns (pooled float32 [S',T'], row_edges, col_edges); edges are the first position of each block.
    NaN and -inf are ignored inside a block, and so is the causal future (key s > query t) when
    `causal`; a block with nothing visible comes back NaN. Works one block-row at a time, so an
    8192 x 8192 map never needs a second full-size copy.
    """
    z = z if hasattr(z, "rows_of") else np.asarray(z)  # a map computed row by row stays so
    if z.ndim != 2:
        raise ValueError(f"pool_matrix expects a 2-D map, got shape {z.shape}")
    if how not in ("max", "mean"):
        raise ValueError(f"how must be 'max' or 'mean', got {how!r}")
    S, T = z.shape
    re, ce = block_edges(S, max_side), block_edges(T, max_side)
    bc = int(ce[1]) if len(ce) > 1 else T
    cols = np.arange(T)
    out = np.empty((len(re), len(ce)), np.float32)
    for i, r0 in enumerate(re):
        r1 = re[i + 1] if i + 1 < len(re) else S
        blk = np.asarray(z[r0:r1], dtype=np.float32)
        ok = np.isfinite(blk)
        if causal:
            ok &= cols[None, :] <= (np.arange(r0, r1) + (T - S))[:, None]
        if how == "max":
            row = np.where(ok, blk, -np.inf).max(0)
            row = np.maximum.reduceat(row, ce) if bc > 1 else row
            row[np.isneginf(row)] = np.nan
        else:
            tot, cnt = np.where(ok, blk, 0).sum(0, dtype=np.float32), ok.sum(0)
            if bc > 1:
                tot, cnt = np.add.reduceat(tot, ce), np.add.reduceat(cnt, ce)
            row = np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)
        out[i] = row
    return out, re, ce


def window(z, lo, size):
    """The full-resolution square window [lo, lo+size) x [lo, lo+size) of a map, clamped to its bounds.
    Returns (window float32, lo) where lo is the clamped start. A map with `rows_of(s0, s1)` (made
    row by row) gives only the window's rows."""
    n = z.shape[0]
    size = int(max(1, min(size, n)))
    lo = int(min(max(0, lo), n - size))
    rows = z.rows_of(lo, lo + size) if hasattr(z, "rows_of") else z[lo : lo + size]
    out = np.asarray(rows, dtype=np.float32)[:, lo : lo + size].copy()
    out[~np.isfinite(out)] = np.nan
    return out, lo


def future_to_nan(z):
    """Copy of a [.., S, T] map with the strict upper triangle (keys after the query) set to NaN."""
    z = np.asarray(z, dtype=np.float32)
    s, t = z.shape[-2:]
    future = np.arange(t)[None, :] > (np.arange(s) + (t - s))[:, None]
    return np.where(future | ~np.isfinite(z), np.float32(np.nan), z)


def span(pos):
    """(first edge, last edge) of the cells a heatmap centres on the sorted positions `pos` (a zoom
    window's positions or pooled blocks' starts): the axis range that shows exactly those cells. A fixed
    range keeps a line drawn outside it (the query, when it is not in a zoom window) from stretching the
    axis and squashing the map into a strip."""
    pos = np.asarray(pos, dtype=np.float64)
    if pos.size == 0:
        raise ValueError("span needs at least one position")
    first = pos[1] - pos[0] if pos.size > 1 else 1.0
    last = pos[-1] - pos[-2] if pos.size > 1 else 1.0
    return float(pos[0] - first / 2), float(pos[-1] + last / 2)


def cell_of(query, pos):
    """The position of the cell that holds `query` (a zoom window's row, or the start of the pooled block
    it falls in), or None when the query is outside the rows drawn."""
    pos = np.asarray(pos, dtype=np.float64)
    step = pos[-1] - pos[-2] if pos.size > 1 else 1.0
    if not pos[0] <= query < pos[-1] + step:
        return None
    return float(pos[np.searchsorted(pos, query, side="right") - 1])
