"""The six aligned maps of a layer view, pooled (or zoomed) for the figures without a T x T map per k.

`base_maps` pools what does not depend on k (index scores, dense attention) once. `pick_maps` pools
the k-dependent maps (the indexer's picks, the ideal picks, sparse attention over the picks and its
difference to dense) straight from the [T, K] picks, one block of query rows at a time: the sparse
values of a block come from views.sparse_rows (sparse.sparse_attention_probs or its tested fast twin)
and are pooled at once, so memory stays O(rows * K). Equal to pooling views.view_maps' full maps
(tests/app/test_ranked.py).
"""

import numpy as np

from dsa_core.analysis import views
from dsa_core.analysis.index_rows import ScoreRows
from dsa_core.analysis.ranked import pool_picks
from dsa_core.pipeline import row_blocks
from dsa_core.viz.panels import prepare_map
from dsa_core.viz.pool import block_edges


def base_maps(rec, head=None, how="max", zoom=None, max_side=192):
    """pick_maps' `base` from a LayerTrace: its index scores and the head's dense attention, prepared
    (pooled with `how`, and with "mean" for the difference map) once; they do not depend on k."""
    dense = views.dense_of(rec, head).numpy()
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
        sp = views.sparse_rows(rec, v.topk, s0, s1, v.head).numpy()  # [S,K]
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
