"""Top-k selection: keep, for every query, the k keys with the highest index score, and nothing in its future.

Formula (paper Eq. 2): S_t = { s : I[t,s] ∈ Top-k(I[t,:]) }, with s ≤ t.
Paper: DeepSeek-V3.2-Exp report, section 2.1. Official: deepseek-ai/DeepSeek-V3.2-Exp
`inference/model.py`, end of `Indexer.forward` (`index_score += mask`, `topk(min(index_topk, end_pos))`)
and `MLA.forward` (`index_mask = full(-inf).scatter_(-1, topk_indices, 0)`, then `index_mask += mask`).
Two choices differ from the demo and are made for teaching: ties go to the lower position
(torch.topk leaves ties unspecified), and slots with no visible key are -1 instead of a masked future
position (as vLLM, FlashMLA and Megatron do). Left out: `dist.broadcast` of the indices across ranks.
"""

import numbers

import torch

from dsa_core.dense import causal_mask

__all__ = ["causal_mask", "select_topk", "topk_mask"]  # causal_mask lives in dense.py, reused here


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
    cand_scores = scores.gather(-1, candidates.clamp(max=T - 1)).masked_fill(candidates == T, float("-inf"))
    # A stable sort keeps equal scores in position order: ties go to the lower position.
    order = cand_scores.sort(dim=-1, descending=True, stable=True).indices[:, :k]  # [n, k]
    return candidates.gather(-1, order)  # [n, k]


def select_topk(scores, k):
    """Positions of the k best scores per row, best first: scores [B,S,T] -> int64 [B,S,k], -1 if unseen.

    Masked keys carry -inf; a row with fewer than k visible keys fills its last slots with -1.
    """
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k <= 0:
        raise ValueError(f"k must be a positive int, got {k!r}")
    k = int(k)
    if scores.dim() != 3:
        raise ValueError(f"scores must be [B, S, T], got shape {tuple(scores.shape)}")
    B, S, T = scores.shape
    k_eff = min(k, T)  # the demo's min(index_topk, end_pos)
    # Fast path: a plain topk, with one extra slot so a tie at the boundary is visible too.
    values, topk_indices = scores.topk(min(k_eff + 1, T), dim=-1)  # [B, S, k_eff+1]
    first = values[..., :1]  # topk ranks NaN above every number, so row maxima show NaN and +inf
    if torch.isnan(first).any() or torch.isposinf(first).any():
        raise ValueError("scores contain NaN or +inf values")
    tied = (values[..., 1:] == values[..., :-1]) & (values[..., 1:] > float("-inf"))  # [B, S, k_eff]
    rows = tied.any(dim=-1)  # [B, S]
    exact = _break_ties(scores[rows], values[rows], topk_indices[rows], k_eff) if rows.any() else None
    topk_indices = topk_indices[..., :k_eff]  # [B, S, k_eff]
    if exact is not None:  # torch.topk orders ties arbitrarily: those rows get the exact order
        topk_indices[rows] = exact
    # Trap: when a row sees fewer than k keys, topk still returns k positions, and the extra ones are
    # masked FUTURE positions (score -inf). Attending to them leaks the future. The demo re-adds the
    # causal mask after scattering; we mark those slots invalid (-1) so no caller can use them.
    # (Tie-breaking moves positions, never scores: the k best scores, best first, are values[:k_eff].)
    topk_indices = topk_indices.masked_fill(values[..., :k_eff] == float("-inf"), -1)
    pad = topk_indices.new_full((B, S, k - k_eff), -1)  # [B, S, k - k_eff]
    return torch.cat([topk_indices, pad], dim=-1)  # [B, S, k]


def topk_mask(topk_indices, T):
    """Boolean selection mask from indices: topk_indices [B,S,K] (-1 = empty) -> bool [B,S,T]."""
    B, S, K = topk_indices.shape
    slots = topk_indices.masked_fill(topk_indices < 0, T)  # send -1 to a spare column T
    mask = torch.zeros(B, S, T + 1, dtype=torch.bool, device=topk_indices.device)  # [B, S, T+1]
    mask.scatter_(-1, slots, True)
    return mask[..., :T]  # [B, S, T]
