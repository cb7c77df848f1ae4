"""The six aligned maps of a layer view, pooled (or zoomed) for the figures without a T x T map per k.

`base_maps` pools what does not depend on k (index scores, dense attention) once. `pick_maps` pools
the k-dependent maps (the indexer's picks, the ideal picks, sparse attention over the picks and its
difference to dense) straight from the [T, K] picks, one block of query rows at a time: the sparse
values of a block come from numbers.sparse_rows (sparse.sparse_attention_probs or its tested fast
twin) and are pooled at once (`pool_picks`: what viz.prepare_map gives for the scattered [T, T] map),
so memory stays O(rows * K). Equal to pooling view_maps' full maps (tests/analysis/test_ranked.py).
"""

import functools

import numpy as np
import torch

from dsa_core.analysis import numbers
from dsa_core.analysis.trace import ScoreRows
from dsa_core.pipeline import row_blocks
from dsa_core.viz.panels import prepare_map
from dsa_core.viz.pool import block_edges, future_to_nan


def base_maps(rec, head=None, how="max", zoom=None, max_side=192):
    """pick_maps' `base` from a LayerTrace: its index scores and the head's dense attention, prepared
    (pooled with `how`, and with "mean" for the difference map) once; they do not depend on k."""
    dense = numbers.dense_of(rec, head).numpy()
    out = {
        "scores": prepare_map(_scores(rec), max_side, how, zoom),
        "dense": prepare_map(dense, max_side, how, zoom),
    }
    out["dense_mean"] = (
        out["dense"] if how == "mean" or zoom is not None else prepare_map(dense, max_side, "mean")
    )
    return out


def _scores(rec):
    """The index-score map to pool: the stored one, or rows recomputed block by block (index_rows.py)."""
    return rec.index_scores.numpy() if rec.index_scores is not None else ScoreRows(rec)


def _row_blocks(T, K, max_side, budget=2**21):
    """Query blocks that cover whole pooling blocks, each about `budget` sparse values or fewer."""
    edges = block_edges(T, max_side)
    b = int(edges[1]) if len(edges) > 1 else T
    rows = max(b, budget // max(1, K) // b * b)
    return [(s0, s1) for s0, s1, _ in row_blocks(T, T, rows)]


def _pooled(T, max_side, how, zoom, parts):
    """Stack pool_picks results of consecutive row blocks into one prepare_map-style dict."""
    if zoom is not None:
        return parts[0]
    return {**parts[0], "z": np.concatenate([p["z"] for p in parts])}


def pick_maps(rec, v, base, how="max", zoom=None, max_side=192):
    """The six maps of a LayerView v (from layer_view(..., sparse=False)) for viz.aligned_maps.

    base: base_maps(rec, v.head, how, zoom, max_side). With zoom=(lo, size) only the window's rows
    are computed."""
    T, K = len(v.tokens), v.topk.shape[1]
    if zoom is not None:
        size = int(max(1, min(zoom[1], T)))
        lo = int(min(max(0, zoom[0]), T - size))
        blocks = [(lo, lo + size)]
    else:
        blocks = _row_blocks(T, K, max_side)
    parts = {"mask": [], "oracle": [], "sparse": [], "sparse_mean": []}
    for s0, s1 in blocks:
        idx = np.asarray(v.topk[s0:s1])  # [S,K]
        sp = numbers.sparse_rows(rec, v.topk, s0, s1, v.head).numpy()  # [S,K]
        parts["mask"].append(pool_picks(idx, 1.0, T, max_side, how, zoom, row0=s0))
        parts["oracle"].append(pool_picks(np.asarray(v.oracle[s0:s1]), 1.0, T, max_side, how, zoom, row0=s0))
        parts["sparse"].append(pool_picks(idx, sp, T, max_side, how, zoom, row0=s0))
        if how != "mean" and zoom is None:  # the difference is always mean-pooled (exact block average)
            parts["sparse_mean"].append(pool_picks(idx, sp, T, max_side, "mean", None, row0=s0))
    out = {name: _pooled(T, max_side, how, zoom, p) for name, p in parts.items() if p}
    mean = out.get("sparse_mean", out["sparse"])
    d = base["dense"] if zoom is not None else base["dense_mean"]
    return {
        "scores": base["scores"],
        "mask": out["mask"],
        "oracle": out["oracle"],
        "dense": base["dense"],
        "sparse": out["sparse"],
        "diff": {**mean, "z": mean["z"] - d["z"]},
    }


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


def scatter_rows(values, idx, T):
    """[S,K] values at [S,K] positions (-1 ignored) -> a [S,T] map (zeros elsewhere), float32."""
    values, idx = np.asarray(values, np.float32), np.asarray(idx)
    out = np.zeros((idx.shape[0], T), np.float32)
    rows = np.broadcast_to(np.arange(idx.shape[0])[:, None], idx.shape)
    ok = idx >= 0
    out[rows[ok], idx[ok]] = values[ok] if values.shape == idx.shape else values
    return out


def view_maps(v):
    """The six aligned maps of a LayerView (made with sparse=True) as [T,T] arrays (notebooks)."""
    T = len(v.tokens)
    sparse = scatter_rows(v.sparse, v.topk, T)
    return {
        "scores": v.scores,
        "mask": scatter_rows(1.0, v.topk, T),
        "oracle": scatter_rows(1.0, v.oracle, T),
        "dense": v.dense,
        "sparse": sparse,
        "diff": sparse - v.dense,
    }
