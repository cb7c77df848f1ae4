"""From a model trace to the numpy arrays the figures draw: one layer at one budget k, one head or the
head-mean; the baselines at the same budget; the output change of the layer; the next-token effect of
DSA in every layer. Every number is computed by a `dsa_core` function (select, metrics, attention,
model); this file only routes tensors between them and hands float32 numpy arrays to the figures.
Used by the app (lessons/common.py caches each step) and by the notebooks.
"""

from dataclasses import dataclass, replace

import numpy as np
import torch

from dsa_core.analysis.ranked import overlap_rows
from dsa_core.dense import dense_attention
from dsa_core.indexer import index_scores
from dsa_core.metrics import attention_recall, oracle_topk, random_topk, window_topk
from dsa_core.sparse import sparse_attention
from dsa_core.topk import select_topk

N_SINKS = 4


@dataclass
class LayerView:
    """One layer at budget k, as numpy. Maps are [T,T]; selections [T,K] (-1 = empty slot)."""

    tokens: list
    k: int  # the budget used (clamped to [1, T])
    head: int | None  # None = mean over heads
    scores: np.ndarray  # [T,T] index scores, -inf in the future (unnormalised)
    dense: np.ndarray  # [T,T] dense attention of the head (or head-mean)
    topk: np.ndarray  # [T,K] the indexer's picks, best first
    oracle: np.ndarray  # [T,K] the ideal top-k of the shown dense attention
    sparse: np.ndarray  # [T,K] sparse attention over the picks (the head, or head-mean)
    recall: dict  # method -> [T] attention mass kept (indexer, ideal, window, random)
    overlap: np.ndarray  # [T] |picks ∩ ideal| / k


def _np(x):
    return x.detach().float().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, np.float32)


def picks_at(rec, k, seed=0):
    """Every selection at budget k that does not depend on the head: the indexer's top-k and the
    window and random baselines -> {name: int64 [T,K]}. Cache this; changing the head reuses it."""
    T = len(rec.tokens)
    k = int(min(max(1, k), T))
    return {
        "DSA indexer": _topk(rec, k),
        f"window + {N_SINKS} sinks": window_topk(T, k, N_SINKS),
        "random": random_topk(T, k, seed),
    }


def _topk(rec, k, chunk=1024):
    """select_topk on the [T,T] index scores, in row blocks (same result, bounded memory): -> [T,K]."""
    s = rec.index_scores
    return torch.cat([select_topk(s[None, r : r + chunk], k)[0] for r in range(0, len(s), chunk)])


def _sparse_probs(rec, idx, head):
    """Sparse attention over the picks, [T,K]. With per-head dense maps it is their restriction to the
    picks, renormalised (softmax over a subset = the full softmax renormalised on it: exact, and no q·k
    recomputed); otherwise sparse_attention_probs from q and k."""
    if rec.dense_probs is None:
        return rec.select(topk_indices=idx).sparse_probs.mean(0)  # [T,K]
    P = rec.dense_probs if head is None else rec.dense_probs[head : head + 1]  # [h,T,T]
    g = P.gather(-1, idx.clamp(min=0).expand(P.shape[0], -1, -1)).masked_fill_(idx < 0, 0.0)  # [h,T,K]
    return g.div_(g.sum(-1, keepdim=True).clamp_(min=1e-30)).mean(0)  # in place: g is a fresh copy [T,K]


def layer_view(rec, k, head=None, seed=0, picks=None):
    """A LayerTrace (dsa_core.analysis.trace) re-selected at budget k -> LayerView. No model run.
    picks: picks_at(rec, k) when cached by the caller (then a new head costs little), optionally with
    "ideal top-k" (the ideal picks of this head) too."""
    T = len(rec.tokens)
    k = int(min(max(1, k), T))
    picks = dict(picks or picks_at(rec, k, seed))
    head = None if rec.dense_probs is None else head
    dense = rec.dense_mean if head is None else rec.dense_probs[head]  # [T,T]
    idx = picks["DSA indexer"]
    if "ideal top-k" not in picks:  # the caller may pass it (ranked.take of ranked_oracle)
        picks["ideal top-k"] = oracle_topk(dense, k)  # [T,K]
    order = ["DSA indexer", "ideal top-k", f"window + {N_SINKS} sinks", "random"]
    recall = {name: _np(attention_recall(dense, picks[name])) for name in order}
    return LayerView(
        rec.tokens,
        k,
        head,
        _np(rec.index_scores),
        _np(dense),
        idx.numpy(),
        picks["ideal top-k"].numpy(),
        _np(_sparse_probs(rec, idx, head)),
        recall,
        overlap_rows(idx, picks["ideal top-k"]),
    )  # = metrics.topk_overlap, O(T·K)


def scatter_rows(values, idx, T):
    """[S,K] values at [S,K] positions (-1 ignored) -> a [S,T] map (zeros elsewhere), float32."""
    values, idx = np.asarray(values, np.float32), np.asarray(idx)
    out = np.zeros((idx.shape[0], T), np.float32)
    rows = np.broadcast_to(np.arange(idx.shape[0])[:, None], idx.shape)
    ok = idx >= 0
    out[rows[ok], idx[ok]] = values[ok] if values.shape == idx.shape else values
    return out


def view_maps(v):
    """The six aligned maps of a LayerView as [T,T] arrays: dict for viz.aligned_maps / prepare_map."""
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
def layer_values(model, rec):
    """This layer's value vectors for the whole text, [T,H_kv,D]: independent of k, so cache them."""
    attn = model.layers[rec.layer].self_attn
    return attn.v_proj(rec.x).view(len(rec.x), attn.H_kv, attn.D)


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
    idx = torch.as_tensor(np.asarray(topk_indices))[None, s0:s1]  # [1,S,K]
    d = attn.o_proj(dense_attention(q, k, v).flatten(2))[0] if dense_out is None else dense_out  # [S,dim]
    s_ = attn.o_proj(sparse_attention(q, k, v, idx).flatten(2))[0]  # [S,dim]
    return _np((s_ - d).norm(dim=-1) / d.norm(dim=-1).clamp(min=1e-9))


@torch.no_grad()
def dense_output(model, rec, s0, s1, v):
    """Dense attention output of this layer (after o_proj) for queries s0..s1-1: [S,dim]."""
    attn = model.layers[rec.layer].self_attn
    return attn.o_proj(dense_attention(rec.q[None, s0:s1], rec.k[None, :s1], v[None, :s1]).flatten(2))[0]


def key_counts(topk, T):
    """How many queries keep each key: [T,K] picks -> [T] counts (attention sinks stand out)."""
    idx = np.asarray(topk).ravel()
    return np.bincount(idx[idx >= 0], minlength=T).astype(np.float32)


@torch.no_grad()
def next_token_effect(model, ids, k, select_dsa):
    """DSA in every layer vs dense, per position: KL(dense ‖ DSA) of the next-token distribution,
    whether the top-1 prediction changes, and both perplexities. select_dsa: dsa_core.host.model.dsa_select(k)."""
    ids = torch.as_tensor(ids).reshape(1, -1)  # [1,T]
    out = {}
    for name, select in (("dense", None), ("dsa", select_dsa)):
        h, _ = model.hidden(ids, select=select)  # [1,T,dim]
        out[name] = torch.log_softmax(model.lm_head(h[0]).float(), dim=-1)  # [T,V]
    d, s = out["dense"], out["dsa"]
    kl = (d.exp() * (d - s)).sum(-1)  # [T]
    nxt = ids[0, 1:]
    ppl = {n: float(torch.exp(-lp[:-1].gather(-1, nxt[:, None]).mean())) for n, lp in out.items()}
    return {
        "kl": _np(kl),
        "top1_dense": d.argmax(-1).numpy(),
        "top1_dsa": s.argmax(-1).numpy(),
        "top1_changed": (d.argmax(-1) != s.argmax(-1)).numpy(),
        "perplexity": ppl,
        "k": int(k),
    }


@torch.no_grad()
def with_indexer(rec, indexer):
    """The trace re-scored by another LightningIndexer (e.g. one trained on the Train page); no model run."""
    qi, ki, w = indexer.project(rec.x[None])
    return replace(rec, index_scores=index_scores(qi, ki, w)[0])  # scores [T,T]
