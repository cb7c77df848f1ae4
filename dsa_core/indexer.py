"""The lightning indexer: a cheap score I[t,s] that ranks which past tokens each query should attend to.

Formula (paper Eq. 1):  I[t,s] = Σ_j w[t,j] · ReLU(q[t,j] · k[s]),  j over the h indexer heads.
ReLU per head, then the per-head weight (no activation, may be negative), then the head sum; no softmax.
One key vector per token is shared by all h heads (MQA). Scores are for ranking only: they are not
probabilities. Paper: DeepSeek-V3.2-Exp report, section 2.1. Official: deepseek-ai/DeepSeek-V3.2-Exp
`inference/model.py`, class `Indexer` (`__init__`, `forward`), and `inference/kernel.py`, `fp8_index`.
Left out: FP8 quantisation, the Hadamard rotation and the key cache (one comment each below; fp8.py
simulates the first two), YaRN, and tensor parallelism. Shapes: h = index_n_heads, d = index_head_dim.
"""

import torch
from torch import nn

from dsa_core.dense import check_finite
from dsa_core.rope import apply_rope_half, rope_cos_sin

BLOCK_ELEMENTS = 2**20  # per-head logits held at once in index_scores (4 MB fp32, about a CPU cache)


def index_scores(q, k, w):
    """Index scores with the causal mask: q [B,S,h,d], k [B,T,d], w [B,S,h] -> fp32 [B,S,T].

    S ≤ T: query s sits at position T - S + s (S = T in prefill, S = 1 when decoding against a key
    cache). Keys after the query's position get -inf. No scaling here: it is folded into w.
    """
    if q.dim() != 4 or k.dim() != 3 or w.dim() != 3:
        raise ValueError(
            f"expected q [B,S,h,d], k [B,T,d], w [B,S,h]; got {tuple(q.shape)}, "
            f"{tuple(k.shape)}, {tuple(w.shape)}"
        )
    B, S, h, d = q.shape
    T = k.shape[1]
    if k.shape[0] != B or k.shape[2] != d or w.shape != (B, S, h):
        raise ValueError(f"shape mismatch: q {tuple(q.shape)}, k {tuple(k.shape)}, w {tuple(w.shape)}")
    if S > T:
        raise ValueError(f"more queries (S={S}) than keys (T={T})")
    for name, x in (("q", q), ("k", k), ("w", w)):
        check_finite(name, x)
    q, k, w = q.float(), k.float(), w.float()
    scores = torch.full((B, S, T), float("-inf"), device=q.device)  # [B, S, T]; the future stays -inf
    query_pos, key_pos = torch.arange(T - S, T, device=q.device), torch.arange(T, device=q.device)
    # Blocks of queries keep the logits cache-sized. Each matrix product gets at least 8 query rows
    # and 16 keys (the last block starts earlier rather than shrinking), because BLAS rounds tiny
    # products differently, and the same scores must come out however the queries are split.
    rows = max(8, BLOCK_ELEMENTS // (h * T))
    for s0 in range(0, S, rows):
        s0, s1 = min(s0, max(S - rows, 0)), min(s0 + rows, S)
        n, end = s1 - s0, min(T, max(T - S + s1, 16))  # keys after the block's last query: all masked
        # All h heads in one matrix product: the h query vectors of a token are h rows of one matrix.
        logits = q[:, s0:s1].reshape(B, n * h, d) @ k[:, :end].transpose(1, 2)  # [B, n·h, end]
        logits = logits.view(B, n, h, end).relu_()  # ReLU before the weight, per head [B, n, h, end]
        block = torch.zeros(B, n, end, device=q.device)  # [B, n, end]
        for j in range(h):  # weight, then the head sum, in head order
            block += w[:, s0:s1, j, None] * logits[:, :, j]
        block.masked_fill_(key_pos[:end] > query_pos[s0:s1, None], float("-inf"))  # causal, in block
        scores[:, s0:s1, :end] = block
    return scores


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
        """Queries, keys and weights: x [B,S,dim], qr [B,S,q_lora_rank] -> q [B,S,h,d], k [B,S,d], w [B,S,h]."""
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
