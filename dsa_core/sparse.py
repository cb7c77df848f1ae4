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
Rung 2 gathers every query's K keys at once; the model runs the same function over cache-sized query
chunks (dsa_core/fast/cpu.py, sparse_attention_chunked, tested equal).
Left out: MLA's latent (absorbed) form and FP8 KV cache of the production kernels.
"""

import torch

from dsa_core._checks import check_finite, check_indices, check_qkv, check_sparse_args
from dsa_core.dense import attention_logits, causal_mask, mix_values


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


def valid_slots(topk_indices, S, T):
    """A slot counts if it is filled (not -1) and not in the query's future: [B,S,K] -> bool [B,S,K].

    The causal re-mask again, so even indices from a careless selection cannot leak the future.
    """
    query_pos = torch.arange(T - S, T, device=topk_indices.device)  # [S]
    return (topk_indices >= 0) & (topk_indices <= query_pos[:, None])  # [B, S, K]


def sparse_attention(q, k, v, topk_indices, scale=None):
    """Rung 2, gathered: only the K selected keys and values per query are read; O(S·K) work and memory.

    q [B,S,H,D], k [B,T,H_kv,D], v [B,T,H_kv,Dv], topk_indices [B,S,K] -> [B,S,H,Dv].
    u_t = Σ_{s ∈ S_t} softmax_{s ∈ S_t}(q_t · k_s · scale) v_s, every head over the same S_t.
    """
    B, S, H, D = q.shape
    T, H_kv = k.shape[1], k.shape[2]
    check_sparse_args(q, k, v, topk_indices)  # shapes, and q finite; keys and values: only those read
    scale = D**-0.5 if scale is None else scale
    k_sel = gather_selected(k, topk_indices).float()  # the K keys of each query [B, S, K, H_kv, D]
    v_sel = gather_selected(v, topk_indices).float()  # and their values [B, S, K, H_kv, Dv]
    check_finite("the selected keys and values", k_sel, v_sel)
    q = q.float().view(B, S, H_kv, H // H_kv, D)  # G = H / H_kv heads share a key head [B, S, H_kv, G, D]
    logits = torch.einsum("bsngd,bsknd->bsngk", q, k_sel) * scale  # [B, S, H_kv, G, K]
    valid = valid_slots(topk_indices, S, T)[:, :, None, None, :]  # [B, S, 1, 1, K]
    probs = logits.masked_fill(~valid, float("-inf")).softmax(dim=-1).nan_to_num(0.0)  # empty row -> 0
    return torch.einsum("bsngk,bsknd->bsngd", probs, v_sel).reshape(B, S, H, -1).to(v.dtype)  # [B,S,H,Dv]


def sparse_attention_probs(q, k, topk_indices, scale=None):
    """The attention weights of sparse_attention, for inspection: q [B,S,H,D], k [B,T,H_kv,D],
    topk_indices [B,S,K] -> fp32 [B,S,H,K], 0 at empty (-1) slots."""
    B, S, H, D = q.shape
    T, H_kv, K = k.shape[1], k.shape[2], topk_indices.shape[-1]
    check_qkv(q, k)
    check_indices(topk_indices, B, S, T)
    scale = D**-0.5 if scale is None else scale
    k_sel = gather_selected(k, topk_indices).float()  # [B, S, K, H_kv, D]
    q = q.float().view(B, S, H_kv, H // H_kv, D)  # [B, S, H_kv, G, D]
    logits = torch.einsum("bsngd,bsknd->bsngk", q, k_sel) * scale  # [B, S, H_kv, G, K]
    valid = valid_slots(topk_indices, S, T)[:, :, None, None, :]  # [B, S, 1, 1, K]
    probs = logits.masked_fill(~valid, float("-inf")).softmax(dim=-1).nan_to_num(0.0)
    return probs.reshape(B, S, H, K)  # [B, S, H, K]
