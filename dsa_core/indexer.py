"""The lightning indexer: a cheap score I[t,s] that ranks which past tokens each query should attend to.

Formula (paper Eq. 1):  I[t,s] = Σ_j w[t,j] · ReLU(q[t,j] · k[s]),  j over the h indexer heads.
ReLU per head, then the per-head weight (no activation, may be negative), then the head sum; no softmax.
One key vector per token is shared by all h heads (MQA). Scores are for ranking only: they are not
probabilities. Paper: DeepSeek-V3.2-Exp report, section 1, Eq. 1. Official: deepseek-ai/DeepSeek-V3.2-Exp
`inference/model.py`, class `Indexer` (`__init__`, `forward`), and `inference/kernel.py`, `fp8_index`.
Left out: FP8 quantisation, the Hadamard rotation and the key cache (one comment each below; fp8.py
simulates the first two), YaRN, and tensor parallelism. Shapes: h = index_n_heads, d = index_head_dim.
"""

import torch
from torch import nn

from dsa_core._checks import check_index_inputs
from dsa_core.dense import causal_mask
from dsa_core.rope import apply_rope_half, rope_cos_sin


def index_scores(q, k, w):
    """Index scores with the causal mask: q [B,S,h,d], k [B,T,d], w [B,S,h] -> fp32 [B,S,T].

    I[t,s] = Σ_j w[t,j] · ReLU(q[t,j] · k[s]) for keys s up to the query's position, -inf after it.
    S ≤ T: query t sits at position T - S + t (S = T in prefill, S = 1 when decoding against a key
    cache). No scaling here: it is folded into w by LightningIndexer.project.
    """
    check_index_inputs(q, k, w)
    B, S, h, _ = q.shape
    T = k.shape[1]
    q, k, w = q.float(), k.float(), w.float()
    scores = torch.zeros(B, S, T, device=q.device)  # [B, S, T]
    for j in range(h):  # Σ over the h indexer heads, in head order
        logits = torch.einsum("bsd,btd->bst", q[:, :, j], k)  # q[t,j] · k[s]  [B, S, T]
        scores += w[:, :, j, None] * logits.relu()  # ReLU first, then the head's weight  [B, S, T]
    return scores.masked_fill(~causal_mask(S, T, q.device), float("-inf"))  # the future is never picked


class LightningIndexer(nn.Module):
    """Holds the indexer's learned weights; forward = project, then call index_scores."""

    def __init__(self, cfg):
        super().__init__()
        self.n_heads, self.head_dim = cfg.index_n_heads, cfg.index_head_dim
        self.rope_head_dim, self.rope_theta = cfg.index_rope_dim, cfg.rope_theta
        self.index_topk = cfg.index_topk
        self.uses_query_latent = cfg.uses_query_latent
        q_in = cfg.q_lora_rank if cfg.uses_query_latent else cfg.dim
        self.wq_b = nn.Linear(q_in, self.n_heads * self.head_dim, bias=False)  # qr (or x) -> h query heads
        self.wk = nn.Linear(cfg.dim, self.head_dim, bias=False)  # x -> the one shared key
        self.k_norm = nn.LayerNorm(self.head_dim, eps=1e-6)  # LayerNorm with bias, not RMSNorm
        self.weights_proj = nn.Linear(cfg.dim, self.n_heads, bias=False)  # x -> per-head weights w
        self.softmax_scale = self.head_dim**-0.5  # the name is official; there is no softmax

    def project(self, x, qr=None, start_pos=0):
        """Queries, keys, weights: x [B,S,dim], qr [B,S,q_lora_rank] -> q [B,S,h,d], k [B,S,d], w [B,S,h]."""
        B, S, _ = x.shape
        if self.uses_query_latent and qr is None:
            raise ValueError("this indexer reads queries from the query latent qr; pass qr")
        q = self.wq_b(qr if self.uses_query_latent else x).view(
            B, S, self.n_heads, self.head_dim
        )  # [B,S,h,d]
        k = self.k_norm(self.wk(x))  # [B, S, d]
        positions = torch.arange(start_pos, start_pos + S, device=x.device)  # [S]
        cos, sin = rope_cos_sin(positions, self.rope_head_dim, self.rope_theta)  # [S, r]
        q, k = apply_rope_half(q, cos, sin), apply_rope_half(k, cos, sin)  # rotate the first r dims
        # The official demo now applies the Hadamard rotation (`rotate_activation`) to q and k; it leaves
        # q·k unchanged in exact arithmetic and only helps FP8. fp8.py simulates it.
        # The official demo then quantises q and k to FP8 e4m3 (`act_quant`) and folds q's scale into
        # the weights; this path stays in fp32 (fp8.py simulates the quantisation).
        w = self.weights_proj(x).float() * self.n_heads**-0.5 * self.softmax_scale  # [B, S, h]
        return q, k, w

    def forward(self, x, qr=None, start_pos=0):
        """Index scores of the S new tokens against themselves: x [B,S,dim] -> fp32 [B,S,S]."""
        q, k, w = self.project(x, qr, start_pos)
        # The official demo writes k into its own FP8 key cache (`Indexer.k_cache`) here and scores
        # against all cached keys; to decode, keep k from project() yourself (see dsa.dsa_decode).
        return index_scores(q, k, w)
