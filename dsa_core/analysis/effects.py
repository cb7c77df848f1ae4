"""What DSA changes downstream of one layer, from a trace: this layer's attention output (sparse vs
dense, in the residual stream's units) and the next-token distribution with DSA in every layer.
Also a trace re-scored by another indexer (the Train page's). These run parts of the model itself.
"""

from dataclasses import replace

import numpy as np
import torch

from dsa_core.analysis import rank
from dsa_core.dense import dense_attention
from dsa_core.host.logprobs import log_softmax_blocks
from dsa_core.indexer import index_scores
from dsa_core.sparse import sparse_attention


def _np(x):
    return x.detach().float().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, np.float32)


@torch.no_grad()
def layer_values(model, rec):
    """This layer's value vectors for the whole text, [T,H_kv,D]: independent of k, so cache them."""
    attn = model.layers[rec.layer].self_attn
    return attn.v_proj(rec.x).view(len(rec.x), attn.H_kv, attn.D)


@torch.no_grad()
def dense_output(model, rec, s0, s1, v):
    """Dense attention output of this layer (after o_proj) for queries s0..s1-1: [S,dim]."""
    attn = model.layers[rec.layer].self_attn
    return attn.o_proj(dense_attention(rec.q[None, s0:s1], rec.k[None, :s1], v[None, :s1]).flatten(2))[0]


@torch.no_grad()
def next_token_effect(model, ids, k, select_dsa, progress=None, rows=512, resume=None, save=None):
    """DSA in every layer vs dense, per position: KL(dense ‖ DSA) of the next-token distribution,
    whether the top-1 prediction changes, and both perplexities. select_dsa: host/selects.py's dsa_select(k).
    The [T, V] log-probabilities are made `rows` positions at a time (at 8,192 tokens one full copy is
    1.6 GB). progress(fraction, message) is called after every layer of both runs (it may raise to stop).
    resume / save: residual-stream checkpoints of the dense run (model.hidden), e.g. from a trace."""
    from dsa_core.analysis.trace import layer_progress

    ids = torch.as_tensor(ids).reshape(1, -1)  # [1,T]
    T, L = ids.shape[1], len(model.layers)
    h = {}
    for i, (name, select) in enumerate((("dense", None), ("dsa", select_dsa))):
        report = (
            (lambda l, i=i, name=name: progress((i * L + l + 1) / (2 * L), f"{name} run, layer {l}"))
            if progress
            else None
        )
        dense = name == "dense"
        with layer_progress(model, report):
            h[name] = model.hidden(
                ids, select=select, resume=resume if dense else None, save=save if dense else None
            )[0][0]  # [T,dim]
    kl, top_d, top_s = np.zeros(T, np.float32), np.zeros(T, np.int64), np.zeros(T, np.int64)
    nll = {"dense": 0.0, "dsa": 0.0}
    blocks = zip(log_softmax_blocks(model, h["dense"], rows), log_softmax_blocks(model, h["dsa"], rows))
    for (s0, s1, d), (_, _, s) in blocks:  # log p, dense and DSA [S,V]
        kl[s0:s1] = _np((d.exp() * (d - s)).sum(-1))
        top_d[s0:s1], top_s[s0:s1] = d.argmax(-1).numpy(), s.argmax(-1).numpy()
        nxt = ids[0, s0 + 1 : s1 + 1]  # the actual next tokens of positions s0..s1-2 (or s1-1)
        for name, lp in (("dense", d), ("dsa", s)):
            nll[name] -= float(lp[: len(nxt)].gather(-1, nxt[:, None]).sum())
    n = max(1, T - 1)
    return {
        "kl": kl,
        "top1_dense": top_d,
        "top1_dsa": top_s,
        "top1_changed": top_d != top_s,
        "perplexity": {name: float(np.exp(v / n)) for name, v in nll.items()},
        "k": int(k),
    }


@torch.no_grad()
def with_indexer(rec, indexer):
    """The trace re-scored by another LightningIndexer (e.g. one trained on the Train page); no model run."""
    qi, ki, w = indexer.project(rec.x[None])
    return replace(rec, index_scores=index_scores(qi, ki, w)[0])  # scores [T,T]


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
    idx = rank.rows_long(topk_indices, s0, s1)[None]  # [1,S,K]
    d = attn.o_proj(dense_attention(q, k, v).flatten(2))[0] if dense_out is None else dense_out  # [S,dim]
    s_ = attn.o_proj(sparse_attention(q, k, v, idx).flatten(2))[0]  # [S,dim]
    return _np((s_ - d).norm(dim=-1) / d.norm(dim=-1).clamp(min=1e-9))
