"""DSA, composed: the lightning indexer scores the past, top-k picks K tokens, attention reads only those.

Formula (paper Eq. 1 and 2): I[t,s] = Σ_j w[t,j] ReLU(q^I[t,j]·k^I[s]);  S_t = Top-k_s I[t,s];
u_t = Attn(q_t, {k_s, v_s : s ∈ S_t}). Paper: DeepSeek-V3.2-Exp report, section 1, Eq. 1-2.
Official: deepseek-ai/DeepSeek-V3.2-Exp `inference/model.py`, `MLA.forward` (`topk_indices =
self.indexer(x, qr, start_pos, freqs_cis, mask)`, then the index mask), for prefill and decode alike.
Decode is not a separate algorithm: it is the same three steps with S = 1 new query against the keys
of every earlier token, and `dsa_decode` runs it token by token so a test can compare it with prefill.
The host model runs the same three steps through pipeline.select (host/selects.py, dsa_select).
Left out: MLA's projections (q, k, v arrive per head, RoPE already applied) and the FP8 caches.
"""

from dataclasses import dataclass

import torch

from dsa_core.indexer import index_scores
from dsa_core.sparse import sparse_attention, sparse_attention_probs
from dsa_core.topk import select_topk


@dataclass
class DSATrace:
    """What one DSA call computed, by name: read these instead of registering hooks."""

    topk_indices: torch.Tensor  # [B, S, K] int64, best first, -1 = empty slot
    probs: torch.Tensor  # [B, S, H, K] attention over the selected slots
    index_scores: torch.Tensor  # [B, S, T] fp32, -inf in the future
    index_keys: torch.Tensor  # [B, T, d] indexer keys so far: the index "cache"


def dsa_attention(x, q, k, v, indexer, topk=None, qr=None, index_k_cache=None):
    """DSA for S new tokens: x [B,S,dim], q [B,S,H,D], k [B,T,H_kv,D], v [B,T,H_kv,Dv] -> (out, trace).

    out [B,S,H,Dv]; trace is a DSATrace. T = cached tokens + S; the new tokens sit at positions
    T - S .. T - 1. index_k_cache [B,T-S,d] holds the indexer keys of the cached tokens (None in
    prefill). topk defaults to the config's index_topk.
    """
    T, S = k.shape[1], x.shape[1]
    topk = indexer.index_topk if topk is None else topk
    # 1) the lightning indexer: queries, one shared key and per-head weights for the new tokens
    iq, ik, iw = indexer.project(x, qr, start_pos=T - S)  # [B,S,h,d], [B,S,d], [B,S,h]
    if index_k_cache is not None:
        ik = torch.cat([index_k_cache, ik], dim=1)  # the indexer's key cache grows by S [B, T, d]
    if ik.shape[1] != T:
        raise ValueError(f"indexer keys cover {ik.shape[1]} tokens but k/v cover T={T}")
    scores = index_scores(iq, ik, iw)  # [B, S, T]
    # 2) top-k: the K keys with the highest index score, nothing in the future
    topk_indices = select_topk(scores, topk)  # [B, S, K]
    # 3) sparse attention over the selected keys, one set shared by all heads
    out = sparse_attention(q, k, v, topk_indices)  # [B, S, H, Dv]
    probs = sparse_attention_probs(q, k, topk_indices)  # the weights it used, for the trace [B, S, H, K]
    return out, DSATrace(topk_indices, probs, scores, ik)


def dsa_decode(x, q, k, v, indexer, topk=None, qr=None):
    """Run dsa_attention one token at a time (S = 1, growing caches): same shapes as a prefill call.

    Returns (out [B,T,H,Dv], trace) with per-step index scores padded with -inf to [B, T, T].
    """
    B, T, _ = x.shape
    outs, traces, cache = [], [], None
    for t in range(T):
        step_qr = None if qr is None else qr[:, t : t + 1]
        out, trace = dsa_attention(
            x[:, t : t + 1], q[:, t : t + 1], k[:, : t + 1], v[:, : t + 1], indexer, topk, step_qr, cache
        )
        cache = trace.index_keys  # the indexer's own key cache grows by one token
        outs.append(out)
        traces.append(trace)
    scores = torch.full((B, T, T), float("-inf"), device=x.device)  # [B, T, T]
    for t, tr in enumerate(traces):
        scores[:, t, : t + 1] = tr.index_scores[:, 0]
    topk_indices = torch.cat([tr.topk_indices for tr in traces], dim=1)  # [B, T, K]
    probs = torch.cat([tr.probs for tr in traces], dim=1)  # [B, T, H, K]
    return torch.cat(outs, dim=1), DSATrace(topk_indices, probs, scores, cache)  # [B, T, H, Dv]
