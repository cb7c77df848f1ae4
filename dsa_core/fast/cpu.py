"""Fast twins on the CPU: the same answers as the reference files, computed with less work.

index_scores_fast(q, k, w) == dsa_core.indexer.index_scores(q, k, w) to float rounding: one matrix
product for all heads instead of a loop of einsums (used where the app and the model's DSA runs score
long texts; host/selects.py's dsa_select(k, fast=True) runs it).

sparse_attention_chunked(q, k, v, idx) == sparse.sparse_attention(q, k, v, idx) to float rounding:
the same gathered attention over cache-sized chunks of queries, so the K gathered keys and values of a
chunk stay in the CPU cache (the model runs it; the reference gathers all S·K rows at once).

select_topk_fast(scores, k) == dsa_core.topk.select_topk(scores, k), exactly (same positions, same
order, same -1 slots): the reference sorts every whole row; this one asks torch.topk for k + 1 values
and sorts only the rows where a tie could change the answer. Proved equal by
tests/fast/test_cpu_twins.py (random rows, rows full of ties, -0.0, rows that see nothing).
"""

import torch

from dsa_core._checks import check_finite, check_index_inputs, check_sparse_args, check_topk_args
from dsa_core.dense import causal_mask
from dsa_core.sparse import gather_selected, valid_slots

CHUNK_ELEMENTS = 2**20  # gathered floats per query chunk (4 MB fp32: about a CPU cache)


def _break_ties(scores, values, indices, k):
    """The exact top k of rows whose plain topk met a tie: best first, ties to the lower position.

    scores [n,T]; values, indices [n,m] = scores.topk(m), m = k+1 (or T) -> int64 [n,k].
    """
    T = scores.shape[-1]
    v = values[:, k - 1 : k]  # [n, 1] k-th best score
    # Keys scoring above v are all among the m already found; keys scoring exactly v may sit anywhere
    # in the row, and the lowest positions among them take the slots that are left. T marks "none".
    above = indices.masked_fill(values <= v, T)  # [n, m]
    positions = torch.arange(T, device=scores.device)  # [T]
    at_v = torch.where(scores == v, positions, T).topk(k, largest=False).values  # [n, k]
    candidates = torch.cat([above, at_v], dim=-1).sort(dim=-1).values  # [n, m+k] by position
    cand_scores = scores.gather(-1, candidates.clamp(max=T - 1))  # [n, m+k]
    cand_scores = cand_scores.masked_fill(candidates == T, float("-inf"))
    # A stable sort keeps equal scores in position order: ties go to the lower position.
    order = cand_scores.sort(dim=-1, descending=True, stable=True).indices[:, :k]  # [n, k]
    return candidates.gather(-1, order)  # [n, k]


def select_topk_fast(scores, k):
    """select_topk with a partial top-k: scores [B,S,T] -> int64 [B,S,k], best first, -1 if unseen."""
    k = check_topk_args(scores, k)
    B, S, T = scores.shape
    k_eff = min(k, T)
    # One extra slot, so that a tie at the boundary of the k best is visible too.
    values, topk_indices = scores.topk(min(k_eff + 1, T), dim=-1)  # [B, S, k_eff+1]
    tied = (values[..., 1:] == values[..., :-1]) & (values[..., 1:] > float("-inf"))  # [B, S, k_eff]
    rows = tied.any(dim=-1)  # [B, S]
    exact = _break_ties(scores[rows], values[rows], topk_indices[rows], k_eff) if rows.any() else None
    topk_indices = topk_indices[..., :k_eff]  # [B, S, k_eff]
    if exact is not None:  # torch.topk orders ties arbitrarily: those rows get the exact order
        topk_indices[rows] = exact
    # Tie-breaking moves positions, never scores: the k best scores, best first, are values[:k_eff].
    topk_indices = topk_indices.masked_fill(values[..., :k_eff] == float("-inf"), -1)
    pad = topk_indices.new_full((B, S, k - k_eff), -1)  # [B, S, k - k_eff]
    return torch.cat([topk_indices, pad], dim=-1)  # [B, S, k]


def index_scores_fast(q, k, w):
    """== indexer.index_scores(q, k, w) to float rounding: every head's logits in one matrix product
    ([S·h, d] @ [d, T]) instead of one einsum per head, then the same ReLU, head weights, sum over heads
    in head order and causal mask. About 2x faster on a 2-core CPU: 88 ms vs 188 ms for 1,024 queries x
    8,192 keys (`python benchmarks/cpu_paths.py --T 8192 --block 1024`, best of 3, load 0.9).

    q [B,S,h,d], k [B,T,d], w [B,S,h] -> fp32 [B,S,T], -inf after each query's position (query s sits
    at position T - S + s). Proved close by tests/fast/test_cpu_twins.py.
    """
    check_index_inputs(q, k, w)
    B, S, h, d = q.shape
    T = k.shape[1]
    q, k, w = q.float(), k.float(), w.float()
    logits = torch.bmm(q.reshape(B, S * h, d), k.transpose(1, 2)).view(B, S, h, T).relu_()  # [B,S,h,T]
    scores = logits[:, :, 0].mul(w[:, :, 0, None])  # [B,S,T]
    for j in range(1, h):  # Σ over the heads in head order, as the reference
        scores.addcmul_(logits[:, :, j], w[:, :, j, None])
    return scores.masked_fill_(~causal_mask(S, T, q.device), float("-inf"))


def sparse_attention_chunked(q, k, v, topk_indices, scale=None, chunk_elements=CHUNK_ELEMENTS):
    """== sparse.sparse_attention(q, k, v, topk_indices, scale), one chunk of queries at a time: each
    chunk gathers about chunk_elements floats (on a GPU pass a larger budget); the arguments are checked
    once, not per chunk. -> [B,S,H,Dv]."""
    B, S, H, D = q.shape
    T, H_kv, K = k.shape[1], k.shape[2], topk_indices.shape[-1]
    check_sparse_args(q, k, v, topk_indices)  # keys and values: only the gathered rows, below
    scale = D**-0.5 if scale is None else scale
    valid = valid_slots(topk_indices, S, T)[:, :, None, None, :]  # [B, S, 1, 1, K]
    rows = max(1, chunk_elements // (K * H_kv * max(D, v.shape[3])))  # queries per chunk
    out = []
    for s0 in range(0, S, rows):
        idx, s1 = topk_indices[:, s0 : s0 + rows], min(s0 + rows, S)
        k_sel, v_sel = gather_selected(k, idx).float(), gather_selected(v, idx).float()  # [B,s,K,H_kv,D|Dv]
        check_finite("the selected keys and values", k_sel, v_sel)
        qc = q[:, s0:s1].float().view(B, s1 - s0, H_kv, H // H_kv, D)  # [B, s, H_kv, G, D]
        logits = torch.einsum("bsngd,bsknd->bsngk", qc, k_sel) * scale  # [B, s, H_kv, G, K]
        probs = logits.masked_fill(~valid[:, s0:s1], float("-inf")).softmax(dim=-1).nan_to_num(0.0)
        out.append(torch.einsum("bsngk,bsknd->bsngd", probs, v_sel).reshape(B, s1 - s0, H, -1))  # [B,s,H,Dv]
    return torch.cat(out, dim=1).to(v.dtype)  # [B, S, H, Dv]
