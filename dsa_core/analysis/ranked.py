"""Cheap re-selection for the app: rank once, then every budget k is a slice; maps straight from picks.

`select_topk` orders each row by score (best first, ties to the lower position, -1 where nothing is
visible). That order is total, so the first k of `select_topk(scores, m)` are exactly
`select_topk(scores, k)` for any k <= m. `ranked_topk` computes such a prefix once per text and layer
(in row blocks, with select_topk itself), and `take` slices any k out of it: a new k costs O(T·k), not
another pass over the T x T scores. `bucket` picks the prefix length (doubling), so a handful of passes
cover every k. `pool_picks` pools a selection map ([T,K] picks -> what prepare_map would give for the
scattered [T,T] map) and `overlap_rows` is topk_overlap without the two [T,T] masks. All are tested equal
to the dsa_core functions they shortcut (tests/app/test_viz.py).
"""

import functools

import numpy as np
import torch

from dsa_core.dense import causal_mask
from dsa_core.topk import select_topk
from dsa_core.viz.pool import block_edges, future_to_nan

FLOOR = 512  # the shortest prefix ranked: every k up to 512 shares one pass


def bucket(k, T, floor=FLOOR):
    """Prefix length to rank for budget k on T tokens: a power of two >= k (at least `floor`), at most T."""
    return int(min(T, max(floor, 1 << max(0, int(k) - 1).bit_length())))


def ranked_topk(scores, m, chunk=1024):
    """select_topk of a [T,T] score map at budget m, in row blocks, stored compactly -> int32 [T, m].
    Any k <= m is then `take(ranked, k)`."""
    m = int(m)
    return torch.cat(
        [select_topk(scores[None, r : r + chunk], m)[0].to(torch.int32) for r in range(0, len(scores), chunk)]
    )


def take(ranked, k):
    """The picks at budget k from a ranked prefix: int64 [T, k], exactly select_topk(scores, k)."""
    k = int(k)
    T, m = ranked.shape
    if k > m and m < T:
        raise ValueError(f"the ranked prefix holds {m} picks per row; rank again with m >= {k}")
    out = ranked[:, :k].long()
    return torch.cat([out, out.new_full((T, k - m), -1)], 1) if k > m else out


def ranked_oracle(probs, m):
    """Ranked prefix of the ideal top-k: dense attention [T,T] with the future masked, as oracle_topk does."""
    p = probs.float()
    T = p.shape[-1]
    return ranked_topk(p.masked_fill(~causal_mask(T, T, p.device), float("-inf")), m)


def ranked_random(T, m, seed=0):
    """Ranked prefix of the random baseline: the same random scores as metrics.random_topk(T, k, seed)."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.rand(1, T, T, generator=g)[0]  # [T,T]
    return ranked_topk(scores.masked_fill_(~causal_mask(T, T), float("-inf")), m)


def overlap_rows(a, b):
    """metrics.topk_overlap for [S,K] picks in O(S·K log K): |a ∩ b| / max(|a|, |b|) per row, -1 ignored.
    A row's picks are distinct, so a position in both sets shows up as two equal neighbours once sorted."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    both = np.sort(np.concatenate([a, b], 1), 1)  # [S, Ka+Kb]
    hits = ((both[:, 1:] == both[:, :-1]) & (both[:, 1:] >= 0)).sum(1)
    size = np.maximum((a >= 0).sum(1), (b >= 0).sum(1)).clip(min=1)
    return (hits / size).astype(np.float32)


@functools.lru_cache(maxsize=8)
def _visible_per_block(T, max_side):
    """Cells with key <= query in each (row block, column block) of a causal T x T map: [n, n] (read-only)."""
    edges = block_edges(T, max_side)
    widths = np.diff(np.append(edges, T))
    per_row = np.clip(np.arange(1, T + 1)[:, None] - edges[None, :], 0, widths[None, :])  # [T, n]
    out = np.add.reduceat(per_row, edges, axis=0)
    out.flags.writeable = False
    return out


def pool_picks(idx, values, T, max_side, how="max", zoom=None):
    """prepare_map(scatter_rows(values, idx, T), max_side, how, zoom) without the [T,T] map.

    idx [T,K] picks (-1 ignored, never in the future), values [T,K] or a scalar -> the same dict
    {"z", "rows", "cols", "note"} (mean pooling equal up to float rounding)."""
    idx = np.asarray(idx)
    vals = np.broadcast_to(np.asarray(values, np.float32), idx.shape)
    rows = np.broadcast_to(np.arange(idx.shape[0])[:, None], idx.shape)
    ok = idx >= 0
    t, s, v = rows[ok], idx[ok], vals[ok]
    if zoom is not None:
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
    edges = block_edges(T, max_side)
    n, b = len(edges), (int(edges[1]) if len(edges) > 1 else 1)
    cell = (t // b) * n + s // b  # flat block index
    visible = _visible_per_block(T, max_side)  # [n,n]
    if how == "mean":
        z = np.bincount(cell, weights=v, minlength=n * n).reshape(n, n) / np.maximum(visible, 1)
    elif how == "max":
        count = np.bincount(cell, minlength=n * n).reshape(n, n)
        if np.ndim(values) == 0:  # one value for every pick
            z = np.where(count > 0, np.float64(values), -np.inf)
        else:
            z = (
                torch.full((n * n,), float("-inf"), dtype=torch.float64)
                .scatter_reduce_(  # block maxima,
                    0,
                    torch.from_numpy(np.ascontiguousarray(cell)),
                    torch.from_numpy(v).double(),
                    "amax",  # 10x np.maximum.at
                )
                .numpy()
                .reshape(n, n)
            )
        full = count >= visible  # every visible cell picked
        z = np.where(full, z, np.maximum(z, 0.0))  # else an unpicked 0 counts
    else:
        raise ValueError(f"how must be 'max' or 'mean', got {how!r}")
    z = np.where(visible > 0, z, np.nan).astype(np.float32)
    note = "" if n == T else f"{how}-pooled blocks of {b} tokens"
    return {"z": z, "rows": edges.astype(np.float32), "cols": edges.astype(np.float32), "note": note}


def pick_maps(v, base, how="max", zoom=None, max_side=192):
    """The six aligned maps of a LayerView, ready for viz.aligned_maps, with the k-dependent ones pooled
    straight from the picks. base: {"scores", "dense", "dense_mean"} = prepare_map results of v.scores and
    v.dense (pooled with `how`, and with "mean" for the difference): they do not depend on k, so cache them."""
    T = len(v.tokens)
    sparse = pool_picks(v.topk, v.sparse, T, max_side, how, zoom)
    diff = sparse if how == "mean" or zoom is not None else pool_picks(v.topk, v.sparse, T, max_side, "mean")
    d = base["dense"] if zoom is not None else base["dense_mean"]
    diff = {**diff, "z": diff["z"] - d["z"]}
    return {
        "scores": base["scores"],
        "mask": pool_picks(v.topk, 1.0, T, max_side, how, zoom),
        "oracle": pool_picks(v.oracle, 1.0, T, max_side, how, zoom),
        "dense": base["dense"],
        "sparse": sparse,
        "diff": diff,
    }


def _dense(rec, head):
    return rec.dense_mean if head is None or rec.dense_probs is None else rec.dense_probs[head]  # [T,T]


def base_maps(rec, head=None, how="max", zoom=None, max_side=192):
    """pick_maps' `base` from a LayerTrace: its index scores and the head's dense attention, prepared
    (pooled with `how`, and with "mean" for the difference map) once; they do not depend on k."""
    from dsa_core.viz.heatmaps import prepare_map

    dense = _dense(rec, head).numpy()
    out = {
        "scores": prepare_map(rec.index_scores.numpy(), max_side, how, zoom),
        "dense": prepare_map(dense, max_side, how, zoom),
    }
    out["dense_mean"] = (
        out["dense"] if how == "mean" or zoom is not None else prepare_map(dense, max_side, "mean")
    )
    return out


def rank(rec, which, m, head=None, seed=0):
    """Ranked prefix of one selection of a LayerTrace: "DSA indexer" (its index scores), "ideal top-k"
    (the head's dense attention; head None = head-mean) or "random" (seeded, depends on T only)."""
    if which == "DSA indexer":
        return ranked_topk(rec.index_scores, m)
    if which == "ideal top-k":
        return ranked_oracle(_dense(rec, head), m)
    if which == "random":
        return ranked_random(len(rec.tokens), m, seed)
    raise ValueError(f"unknown selection {which!r}")


def rank_heads(rec, m):
    """The ideal top-k ranked for every head at once: [H, T, m] (None without per-head maps). Done when a
    text is new, so that switching heads later costs a slice, not a T x T pass."""
    if rec.dense_probs is None:
        return None
    return torch.stack([ranked_oracle(rec.dense_probs[h], m) for h in range(rec.dense_probs.shape[0])])


def picks_from(ranks, T, k, n_sinks=4):
    """Every selection at budget k for views.layer_view(picks=...): slices of the ranked prefixes
    {"DSA indexer", "ideal top-k", "random"} plus the sliding window with sinks."""
    from dsa_core.metrics import window_topk

    out = {name: take(r, k) for name, r in ranks.items()}
    out[f"window + {n_sinks} sinks"] = window_topk(T, k, n_sinks)
    return out
