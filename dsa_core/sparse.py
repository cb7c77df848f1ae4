"""Sparse attention: each query attends only to the K keys the indexer selected for it.

Formula (paper Eq. 2): u_t = Attn(q_t, {k_s, v_s : s ∈ S_t}), softmax renormalised over S_t.
One selected set per query token is shared by every head (the "MQA mode" of the paper), and GQA/MQA
hosts share each key/value head across H / H_kv query heads. Paper: DeepSeek-V3.2-Exp report, section 1.
Official: deepseek-ai/DeepSeek-V3.2-Exp `inference/model.py`, `MLA.forward` (`index_mask`, broadcast
to all heads with `unsqueeze(2)`); FlashMLA's sparse kernels take the same [B, S, K] indices, -1 = empty.
The ladder (each rung tested against the one below):
  rung 0  dense.dense_attention        dense causal attention, the oracle             O(T^2)
  rung 1  masked_sparse_attention      dense scores + -inf outside the set (the demo)  O(T^2), readable
  rung 2  sparse_attention             gather the K selected keys per query            O(T·K), the real saving
Left out: MLA's latent (absorbed) form and FP8 KV cache of the production kernels.
"""

import torch

from dsa_core._checks import check_indices, check_qkv
from dsa_core.dense import attention_logits, causal_mask, mix_values

CHUNK_ELEMENTS = 2**20  # gathered floats per query chunk in rung 2 (4 MB fp32: about a CPU cache)


def masked_sparse_attention(q, k, v, topk_indices, scale=None):
    """Rung 1, the demo's form: q [B,S,H,D], k [B,T,H_kv,D], v [B,T,H_kv,Dv], idx [B,S,K] -> [B,S,H,Dv]."""
    check_qkv(q, k, v)
    B, S, T = q.shape[0], q.shape[1], k.shape[1]
    check_indices(topk_indices, B, S, T)
    logits = attention_logits(q, k, scale)  # [B, H, S, T]
    selected = torch.zeros(B, S, T + 1, dtype=torch.bool, device=q.device)  # [B, S, T+1]
    selected.scatter_(-1, topk_indices.masked_fill(topk_indices < 0, T), True)  # -1 -> spare column
    visible = selected[..., :T] & causal_mask(
        S, T, q.device
    )  # re-apply the causal mask (`index_mask += mask`)
    logits = logits.masked_fill(~visible[:, None], float("-inf"))  # same mask for every head
    probs = logits.softmax(dim=-1).nan_to_num(0.0)  # a row with nothing visible gives 0, not NaN
    return mix_values(probs, v)  # [B, S, H, Dv]


def gather_selected(x, topk_indices):
    """Rows of x at the selected positions (-1 reads row 0; callers mask it).

    x [B,T,N,D], topk_indices [B,S,K] -> [B,S,K,N,D].
    """
    B, T = x.shape[:2]
    batch = torch.arange(B, device=x.device)[:, None, None]  # [B, 1, 1]
    rows = topk_indices.clamp(min=0) + T * batch  # [B, S, K] rows of x as [B·T, N, D]
    # index_select copies whole rows, several times faster on CPU than x[batch, indices]
    return x.flatten(0, 1).index_select(0, rows.flatten()).view(*topk_indices.shape, *x.shape[2:])


def _query_chunks(S, K, width):
    """Query ranges [s0, s1) small enough that a chunk's gather holds about CHUNK_ELEMENTS floats."""
    rows = max(1, CHUNK_ELEMENTS // (K * width))
    return [(s0, min(s0 + rows, S)) for s0 in range(0, S, rows)]


def _chunk_probs(q, k, topk_indices, valid, scale):
    """Softmax over the selected slots for one chunk of queries: q [B,s,H,D] -> fp32 [B,s,H,K]."""
    B, s, H, D = q.shape
    H_kv, K = k.shape[2], topk_indices.shape[-1]
    k_sel = gather_selected(k, topk_indices).float()  # [B, s, K, H_kv, D]
    q = q.float().view(B, s, H_kv, H // H_kv, D)  # [B, s, H_kv, G, D]
    logits = torch.einsum("bsngd,bsknd->bsngk", q, k_sel) * scale  # [B, s, H_kv, G, K]
    logits = logits.masked_fill(~valid[:, :, None, None, :], float("-inf"))
    p = logits.softmax(dim=-1).nan_to_num(0.0)  # zero valid slots -> zeros, not NaN
    return p.reshape(B, s, H, K)  # [B, s, H, K]


def _chunk_mix(probs, v, topk_indices):
    """Weighted selected values for one chunk of queries: probs [B,s,H,K] -> fp32 [B,s,H,Dv]."""
    B, s, H, K = probs.shape
    H_kv, Dv = v.shape[2], v.shape[3]
    v_sel = gather_selected(v, topk_indices).float()  # [B, s, K, H_kv, Dv]
    p = probs.view(B, s, H_kv, H // H_kv, K)  # [B, s, H_kv, G, K]
    return torch.einsum("bsngk,bsknd->bsngd", p, v_sel).reshape(B, s, H, Dv)  # [B, s, H, Dv]


def _valid_slots(topk_indices, S, T):
    """A slot counts if it is filled (not -1) and not in the query's future: [B,S,K] -> bool [B,S,K].

    The causal re-mask again, so even indices from a careless selection cannot leak the future.
    """
    query_pos = torch.arange(T - S, T, device=topk_indices.device)  # [S]
    return (topk_indices >= 0) & (topk_indices <= query_pos[:, None])  # [B, S, K]


def sparse_attention_probs(q, k, topk_indices, scale=None):
    """Attention probabilities over the selected slots, 0 at empty (-1) slots.

    q [B,S,H,D], k [B,T,H_kv,D], topk_indices [B,S,K] -> fp32 [B,S,H,K].
    """
    check_qkv(q, k)
    B, S, H, D = q.shape
    T, H_kv, K = k.shape[1], k.shape[2], topk_indices.shape[-1]
    check_indices(topk_indices, B, S, T)
    scale = D**-0.5 if scale is None else scale
    valid = _valid_slots(topk_indices, S, T)  # [B, S, K]
    return torch.cat(
        [
            _chunk_probs(q[:, s0:s1], k, topk_indices[:, s0:s1], valid[:, s0:s1], scale)
            for s0, s1 in _query_chunks(S, K, H_kv * D)
        ],
        dim=1,
    )  # [B, S, H, K]


def sparse_mix_values(probs, v, topk_indices):
    """Weight the selected values: probs [B,S,H,K], v [B,T,H_kv,Dv], idx [B,S,K] -> [B,S,H,Dv]."""
    S, K = probs.shape[1], probs.shape[3]
    H_kv, Dv = v.shape[2], v.shape[3]
    out = [
        _chunk_mix(probs[:, s0:s1], v, topk_indices[:, s0:s1]) for s0, s1 in _query_chunks(S, K, H_kv * Dv)
    ]
    return torch.cat(out, dim=1).to(v.dtype)  # [B, S, H, Dv]


def sparse_attention(q, k, v, topk_indices, scale=None):
    """Rung 2, gathered: only the K selected keys and values per query are read; memory O(S·K).

    q [B,S,H,D], k [B,T,H_kv,D], v [B,T,H_kv,Dv], topk_indices [B,S,K] -> [B,S,H,Dv].
    """
    check_qkv(q, k, v)
    B, S, H, D = q.shape
    T, H_kv, K = k.shape[1], k.shape[2], topk_indices.shape[-1]
    check_indices(topk_indices, B, S, T)
    scale = D**-0.5 if scale is None else scale
    valid = _valid_slots(topk_indices, S, T)  # [B, S, K]
    out = []
    # probs then values, one cache-sized chunk of queries at a time: the gathers never leave the cache
    for s0, s1 in _query_chunks(S, K, H_kv * max(D, v.shape[3])):
        idx = topk_indices[:, s0:s1]
        probs = _chunk_probs(q[:, s0:s1], k, idx, valid[:, s0:s1], scale)  # [B, s, H, K]
        out.append(_chunk_mix(probs, v, idx))  # [B, s, H, Dv]
    return torch.cat(out, dim=1).to(v.dtype)  # [B, S, H, Dv]
