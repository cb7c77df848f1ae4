"""The numbers of one layer at one budget k, from a trace and its rankings, as float32 numpy arrays.

`layer_view` / `layer_numbers`: the picks, the ideal picks, recall of the dense mass for the indexer
and the same-budget baselines, overlap, how often each key is kept, sparse attention over the picks;
`summary` averages them. The Learn page's one-query numbers: per-indexer-head votes, the indexer's own
distribution vs the target it learns, FP8 vs fp32 selection, and the arithmetic cost on this text.
Every number comes from a `dsa_core` reference function (select_topk through analysis/rank.py,
metrics.*, sparse.*) or from a fast twin in dsa_core/fast/ that a test proves equal; this file only
routes tensors between them, one block of query rows at a time (no T x T array per k).
"""

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from dsa_core.analysis import rank
from dsa_core.analysis.trace import ScoreRows, index_rows, projected
from dsa_core.cost import flops as cost
from dsa_core.fast.rows import overlap_rows, sparse_probs_via_dense, window_rows
from dsa_core.fp8 import fp8_index_scores
from dsa_core.indexer import index_scores
from dsa_core.metrics import attention_recall, topk_overlap
from dsa_core.pipeline import row_blocks
from dsa_core.sparse import sparse_attention_probs
from dsa_core.topk import select_topk
from dsa_core.train.losses import attention_target, kl_to_scores

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


def block_rows(T, k, budget=2**21):
    """Query rows per block so that a block holds about `budget` picks (16 MB as int64): transient memory
    of a new k stays O(budget), whatever T and k."""
    return int(min(T, max(64, budget // max(1, k))))


def sparse_fn(K, T):
    """What sparse_rows runs at budget K over T tokens: sparse_attention_probs (it gathers K keys per
    query) while K <= T / GATHER_PER_TOKEN, above that its twin fast.rows.sparse_probs_via_dense."""
    return sparse_attention_probs if K * GATHER_PER_TOKEN <= T else sparse_probs_via_dense


def sparse_rows(rec, picks, s0, s1, head=None):
    """Sparse attention over the picks of queries s0..s1-1 (the head, or the head-mean): -> [S,K].
    sparse.sparse_attention_probs gathers K keys per query; for K > T / 48 its fast twin
    fast.rows.sparse_probs_via_dense (tests/analysis/test_ranked.py) gives the same numbers for less work."""
    fn = sparse_fn(picks.shape[1], len(rec.tokens))
    gather = fn is sparse_attention_probs
    step = s1 - s0 if gather else 256  # the twin's logits: [H, 256, s1] floats per step (75 MB at 8,192)
    out = []
    for r0, _, b in row_blocks(s1 - s0, s1, step):  # queries a..b-1 see keys 0..b-1
        a = s0 + r0
        p = fn(rec.q[None, a:b], rec.k[None, :b], rank.rows_long(picks, a, b)[None])[0]  # [S,H,K]
        out.append(p.mean(1) if head is None else p[:, head])  # [S,K]
    return torch.cat(out)


def rank_all(rec, head=None, seed=0):
    """Every selection fully ranked ({name: compact [T,T]}, see analysis/rank.py): any k is a slice."""
    return {
        "DSA indexer": rank.rank_index(rec),
        "ideal top-k": rank.rank_oracle(dense_of(rec, head)),
        "random": rank.rank_random(len(rec.tokens), seed),
    }


@torch.no_grad()
def layer_numbers(rec, k, head=None, ranks=None, seed=0):
    """The per-query numbers of a view at budget k: {"recall": {method: [T]}, "overlap": [T], "counts": [T]}.
    Fresh arrays of size T only (a cache may keep them without keeping the trace alive)."""
    T = len(rec.tokens)
    k = int(min(max(1, k), T))
    dense = dense_of(rec, head)  # [T,T]
    ranks = ranks or rank_all(rec, head, seed)
    picks = {name: rank.picks(r, k) for name, r in ranks.items()}  # views [T,k]
    recall = {name: np.zeros(T, np.float32) for name in ORDER}
    overlap, counts = np.zeros(T, np.float32), np.zeros(T, np.int64)
    rows = block_rows(T, k)
    for s0, s1, _ in row_blocks(T, T, rows):  # one block of queries at a time: memory O(rows * k)
        blk = {name: rank.rows_long(p, s0, s1) for name, p in picks.items()}  # [S,k] each
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
    topk, ideal = rank.picks(ranks["DSA indexer"], k), rank.picks(ranks["ideal top-k"], k)  # views [T,k]
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
def head_votes(indexer, x, query):
    """Each indexer head's term w[t,j]·ReLU(q[t,j]·k[s]) for one query t: -> [h, t+1] (they sum to I[t,:])."""
    qi, ki, w = indexer.project(x[None, : query + 1])  # [1,t+1,h,d], [1,t+1,d], [1,t+1,h]
    per_head = [
        index_scores(qi[:, -1:, j : j + 1], ki, w[:, -1:, j : j + 1])[0, 0] for j in range(qi.shape[2])
    ]
    return np.stack([_np(v) for v in per_head])  # [h, t+1]


@torch.no_grad()
def indexer_vs_target(rec, query):
    """For one query: the target p (head-mean dense attention, what stage 1 teaches), the indexer's
    distribution softmax(I), and their KL (the stage-1 loss of this row)."""
    p = rec.dense_mean[query, : query + 1].float()  # [t+1]
    s = index_rows(rec, query, query + 1)[0, : query + 1].float()  # [t+1]
    kl = kl_to_scores(p[None, None], s[None, None])
    return {"target": _np(p), "indexer": _np(torch.softmax(s, -1)), "kl": float(kl)}


@torch.no_grad()
def kl_per_query(rec, chunk=256):
    """Stage-1 KL(p_t ‖ softmax(I_t)) for every query t: -> [T] (the loss the Train page lowers)."""
    T = rec.dense_mean.shape[0]
    p = attention_target(rec.dense_mean[None, None])[0]  # [T,T]
    out, proj = [], projected(rec) if rec.index_scores is None else None
    for s0, s1, _ in row_blocks(T, T, chunk):
        scores = index_rows(rec, s0, s1, proj)  # [c,T]
        out += [
            float(kl_to_scores(p[None, t : t + 1], scores[None, t - s0 : t - s0 + 1])) for t in range(s0, s1)
        ]
    return np.asarray(out, np.float32)


@torch.no_grad()
def fp8_agreement(indexer, x, k):
    """Index scores in fp32 vs simulated FP8 (e4m3, block scales, Hadamard rotation, as the official
    kernel): -> {"overlap": [T] share of the fp32 top-k kept by the FP8 top-k, "fp32", "fp8": [T,T]}."""
    qi, ki, w = indexer.project(x[None])
    exact = index_scores(qi, ki, w)  # [1,T,T]
    fp8 = fp8_index_scores(qi, ki, w)  # [1,T,T]
    fp8 = fp8.masked_fill(torch.isinf(exact), float("-inf"))
    overlap = topk_overlap(select_topk(exact, k), select_topk(fp8, k))[0]  # [T]
    return {"overlap": _np(overlap), "fp32": _np(exact[0]), "fp8": _np(fp8[0])}


def cost_on_text(T, k, shape=cost.SMOLLM2):
    """Multiply-adds of one layer's prefill on this text: dense, masked dense ('sparse' computed by
    masking a dense score matrix: still every pair) and DSA (indexer + attention over k keys)."""
    s = dataclasses.replace(shape, index_topk=int(k))
    dense = cost.dense_cost(s, T)["total_macs"]
    dsa = cost.dsa_cost(s, T)
    return {
        "dense": dense,
        "masked dense + indexer": dense + dsa["indexer/qk_macs"],
        "DSA: indexer": dsa["indexer/qk_macs"],
        "DSA: sparse attention": dsa["attention/core_macs"],
        "DSA total": dsa["total_macs"],
    }
