"""From a model trace to the numpy arrays the figures draw: one layer at one budget k, one head or the
head-mean; the baselines at the same budget; the output change of the layer; the next-token effect of
DSA in every layer. Every number comes from a `dsa_core` reference function (select_topk through the
rankings of analysis/ranked.py, metrics.*, sparse.*) or from a fast twin in dsa_core/fast/ that a test
proves equal; this file only routes tensors between them, one block of query rows at a time (so no
T x T array is made per k), and hands float32 numpy arrays to the figures.
Used by the app (lessons/cache.py caches each step) and by the notebooks.
"""

from dataclasses import dataclass

import numpy as np
import torch

from dsa_core.analysis import ranked as rk
from dsa_core.analysis.effects import layer_values
from dsa_core.analysis.index_rows import ScoreRows
from dsa_core.dense import dense_attention
from dsa_core.fast.rows import overlap_rows, sparse_probs_via_dense, window_rows
from dsa_core.metrics import attention_recall
from dsa_core.pipeline import row_blocks
from dsa_core.sparse import sparse_attention, sparse_attention_probs

N_SINKS = 4
WINDOW = f"window + {N_SINKS} sinks"
ORDER = ["DSA indexer", "ideal top-k", WINDOW, "random"]
GATHER_PER_TOKEN = 48  # the reference gathers when K <= T / 48; above, the fast twin (measured crossover)


@dataclass
class LayerView:
    """One layer at budget k, as numpy. Maps are [T,T] (shared with the trace, not copies); selections
    [T,K] are views of the full rankings (-1 = empty slot); per-query numbers are [T]."""

    tokens: list
    k: int  # the budget used (clamped to [1, T])
    head: int | None  # None = mean over heads
    scores: np.ndarray  # [T,T] index scores, -inf in the future (unnormalised); a ScoreRows when the
    # trace keeps no map (long texts): scores[t] is still row t
    dense: np.ndarray  # [T,T] dense attention of the head (or head-mean)
    topk: np.ndarray  # [T,K] the indexer's picks, best first
    oracle: np.ndarray  # [T,K] the ideal top-k of the shown dense attention
    recall: dict  # method -> [T] attention mass kept (indexer, ideal, window, random)
    overlap: np.ndarray  # [T] |picks ∩ ideal| / k
    counts: np.ndarray  # [T] how many queries keep each key
    sparse: np.ndarray | None = None  # [T,K] sparse attention over the picks (only when asked for)


def _np(x):
    return x.detach().float().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, np.float32)


def dense_of(rec, head=None):
    """The dense attention a view compares with: one head's [T,T] map, or the head-mean."""
    return rec.dense_mean if head is None or rec.dense_probs is None else rec.dense_probs[head]


def rank_all(rec, head=None, seed=0):
    """Every selection fully ranked ({name: compact [T,T]}, see analysis/ranked.py): any k is a slice."""
    return {
        "DSA indexer": rk.rank_index(rec),
        "ideal top-k": rk.rank_oracle(dense_of(rec, head)),
        "random": rk.rank_random(len(rec.tokens), seed),
    }


def block_rows(T, k, budget=2**21):
    """Query rows per block so that a block holds about `budget` picks (16 MB as int64): transient memory
    of a new k stays O(budget), whatever T and k."""
    return int(min(T, max(64, budget // max(1, k))))


def sparse_rows(rec, picks, s0, s1, head=None):
    """Sparse attention over the picks of queries s0..s1-1 (the head, or the head-mean): -> [S,K].
    sparse.sparse_attention_probs gathers K keys per query; for K > T / 48 its fast twin
    fast.rows.sparse_probs_via_dense (tests/app/test_ranked.py) gives the same numbers for less work."""
    gather = picks.shape[1] * GATHER_PER_TOKEN <= len(rec.tokens)
    fn = sparse_attention_probs if gather else sparse_probs_via_dense
    step = s1 - s0 if gather else 256  # the twin's logits: [H, 256, s1] floats per step (75 MB at 8,192)
    out = []
    for r0, _, b in row_blocks(s1 - s0, s1, step):  # queries a..b-1 see keys 0..b-1
        a = s0 + r0
        p = fn(rec.q[None, a:b], rec.k[None, :b], rk.rows_long(picks, a, b)[None])[0]  # [S,H,K]
        out.append(p.mean(1) if head is None else p[:, head])  # [S,K]
    return torch.cat(out)


@torch.no_grad()
def layer_numbers(rec, k, head=None, ranks=None, seed=0):
    """The per-query numbers of a view at budget k: {"recall": {method: [T]}, "overlap": [T], "counts": [T]}.
    Fresh arrays of size T only (a cache may keep them without keeping the trace alive)."""
    T = len(rec.tokens)
    k = int(min(max(1, k), T))
    dense = dense_of(rec, head)  # [T,T]
    ranks = ranks or rank_all(rec, head, seed)
    picks = {name: rk.picks(r, k) for name, r in ranks.items()}  # views [T,k]
    recall = {name: np.zeros(T, np.float32) for name in ORDER}
    overlap, counts = np.zeros(T, np.float32), np.zeros(T, np.int64)
    rows = block_rows(T, k)
    for s0, s1, _ in row_blocks(T, T, rows):  # one block of queries at a time: memory O(rows * k)
        blk = {name: rk.rows_long(p, s0, s1) for name, p in picks.items()}  # [S,k] each
        blk[WINDOW] = window_rows(T, k, s0, s1, N_SINKS)  # = metrics.window_topk(T, k)[s0:s1]
        for name in ORDER:
            recall[name][s0:s1] = _np(attention_recall(dense[s0:s1], blk[name]))
        overlap[s0:s1] = _np(overlap_rows(blk["DSA indexer"], blk["ideal top-k"]))  # = metrics.topk_overlap
        ind = blk["DSA indexer"].flatten()
        counts += np.bincount(ind[ind >= 0].numpy(), minlength=T)
    return {"recall": recall, "overlap": overlap, "counts": counts.astype(np.float32)}


def layer_view(rec, k, head=None, seed=0, ranks=None, sparse=True, numbers=None):
    """A LayerTrace (dsa_core.analysis.trace) re-selected at budget k -> LayerView. No model run.
    ranks: rank_all(rec, head) when cached by the caller (then any k is a slice); numbers:
    layer_numbers(...) when cached. sparse: also compute the [T,K] sparse attention (notebooks; the app
    pools it block by block instead, see analysis/maps.py)."""
    T = len(rec.tokens)
    k = int(min(max(1, k), T))
    head = None if rec.dense_probs is None else head
    ranks = ranks or rank_all(rec, head, seed)
    n = numbers or layer_numbers(rec, k, head, ranks)
    topk, ideal = rk.picks(ranks["DSA indexer"], k), rk.picks(ranks["ideal top-k"], k)  # views [T,k]
    sp = _np(sparse_rows(rec, topk, 0, T, head)) if sparse else None  # [T,K] (it steps through rows)
    return LayerView(
        rec.tokens,
        k,
        head,
        _np(rec.index_scores) if rec.index_scores is not None else ScoreRows(rec),
        _np(dense_of(rec, head)),
        topk.numpy(),
        ideal.numpy(),
        n["recall"],
        n["overlap"],
        n["counts"],
        sp,
    )


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


def summary(v, query=None):
    """Mean over queries that see more than k keys (where selection matters), or one query's numbers."""
    T = len(v.tokens)
    rows = np.arange(T) >= v.k if query is None else np.arange(T) == query
    if not rows.any():
        rows = np.ones(T, bool)
    out = {f"recall: {name}": float(r[rows].mean()) for name, r in v.recall.items()}
    out["overlap with ideal top-k"] = float(v.overlap[rows].mean())
    out["queries counted"] = int(rows.sum())
    return out


@torch.no_grad()
def output_change(model, rec, topk_indices, s0, s1, v=None, dense_out=None):
    """Relative change of this layer's attention output for the queries s0..s1-1, sparse vs dense:
    -> [s1-s0] ‖o_sparse − o_dense‖ / ‖o_dense‖ (after o_proj: in the residual stream's units).
    A block of consecutive queries ending at s1 is exactly what dense_attention / sparse_attention take
    (queries aligned to the end of keys 0..s1-1), so both run once on the block. v: layer_values(...)
    and dense_out: the dense output [S,dim] of the block (k-independent), when the caller caches them."""
    attn = model.layers[rec.layer].self_attn
    v = (layer_values(model, rec) if v is None else v)[None, :s1]  # [1,s1,H_kv,D]
    q, k = rec.q[None, s0:s1], rec.k[None, :s1]  # [1,S,H,D], [1,s1,H_kv,D]
    idx = rk.rows_long(topk_indices, s0, s1)[None]  # [1,S,K]
    d = attn.o_proj(dense_attention(q, k, v).flatten(2))[0] if dense_out is None else dense_out  # [S,dim]
    s_ = attn.o_proj(sparse_attention(q, k, v, idx).flatten(2))[0]  # [S,dim]
    return _np((s_ - d).norm(dim=-1) / d.norm(dim=-1).clamp(min=1e-9))
