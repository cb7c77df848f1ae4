"""Top-k selection: keep, for every query, the k keys with the highest index score, and nothing in its future.

Formula (paper Eq. 2): S_t = { s : I[t,s] ∈ Top-k(I[t,:]) }, with s ≤ t.
Paper: DeepSeek-V3.2-Exp report, section 1, Eq. 2. Official: deepseek-ai/DeepSeek-V3.2-Exp
`inference/model.py`, end of `Indexer.forward` (`index_score += mask`, `topk(min(index_topk, end_pos))`)
and `MLA.forward` (`index_mask = full(-inf).scatter_(-1, topk_indices, 0)`, then `index_mask += mask`).
Two choices differ from the demo and are made for teaching: ties go to the lower position
(torch.topk leaves ties unspecified), and slots with no visible key are -1 instead of a masked future
position (as vLLM, FlashMLA and Megatron do). Left out: `dist.broadcast` of the indices across ranks.
The sort below is the readable form; the model and the app run dsa_core.fast.cpu.select_topk_fast,
a partial top-k tested equal to it (tests/fast/test_cpu_twins.py).
"""

import torch

from dsa_core._checks import check_topk_args
from dsa_core.dense import causal_mask

__all__ = ["causal_mask", "select_topk", "topk_mask"]  # causal_mask lives in dense.py, reused here


def select_topk(scores, k):
    """Positions of the k best scores per row, best first: scores [B,S,T] -> int64 [B,S,k], -1 if unseen.

    S_t = Top-k_s I[t,s]. Masked keys carry -inf; a row with fewer than k visible keys fills its last
    slots with -1. Ties go to the lower position.
    """
    k = check_topk_args(scores, k)
    B, S, T = scores.shape
    k_eff = min(k, T)  # the demo's min(index_topk, end_pos)
    # A stable sort keeps equal scores in position order, so ties go to the lower position.
    ranked = scores.sort(dim=-1, descending=True, stable=True)  # values, indices [B, S, T]
    topk_indices = ranked.indices[..., :k_eff]  # [B, S, k_eff]
    # Trap: when a row sees fewer than k keys, the top k still holds k positions, and the extra ones
    # are masked FUTURE positions (score -inf). Attending to them leaks the future. The demo re-adds
    # the causal mask after scattering; we mark those slots invalid (-1) so no caller can use them.
    topk_indices = topk_indices.masked_fill(ranked.values[..., :k_eff] == float("-inf"), -1)
    pad = topk_indices.new_full((B, S, k - k_eff), -1)  # [B, S, k - k_eff]
    return torch.cat([topk_indices, pad], dim=-1)  # [B, S, k]


def topk_mask(topk_indices, T):
    """Boolean selection mask from indices: topk_indices [B,S,K] (-1 = empty) -> bool [B,S,T]."""
    B, S, K = topk_indices.shape
    slots = topk_indices.masked_fill(topk_indices < 0, T)  # send -1 to a spare column T
    mask = torch.zeros(B, S, T + 1, dtype=torch.bool, device=topk_indices.device)  # [B, S, T+1]
    mask.scatter_(-1, slots, True)
    return mask[..., :T]  # [B, S, T]
