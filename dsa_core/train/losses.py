"""The lightning indexer's training losses: KL from the main attention to softmax(index scores).

Stage 1, dense warm-up:   p[t,:] = Σ_h P_h[t,:] / ‖Σ_h P_h[t,:]‖₁ on the causal prefix,
                          L_I = Σ_t KL(p[t,:] ‖ softmax(I[t,:])).
Stage 2, sparse training: the same KL on the selected set S_t only, both sides renormalised on S_t.
Paper: DeepSeek-V3.2-Exp report, section 2.1 "Continued Pre-Training" (no official training code).
Stage-2 target, reading (A): each head's softmax over S_t (the sparse attention the model really ran),
summed over heads, L1-normalised; as NVIDIA Megatron-LM `experimental_attention_variant/dsa.py`.
Reading (B), the dense per-head softmax restricted to S_t, needs a dense pass that stage 2 exists
to avoid; `restricted_target` computes it for comparison. Both differ only in how heads are weighted.
Our choices (undisclosed by DeepSeek): mean over queries instead of the sum, so the learning rate does
not depend on sequence length. The teacher is always detached: gradients reach only the indexer.
"""

TINY = 1e-30  # keeps log(0) and 0/0 out of rows whose mass underflowed


def attention_target(probs, head_dim=1):
    """Head-summed, L1-normalised attention, detached: probs [B,H,S,T] (head_dim=1) -> p [B,S,T]."""
    p = probs.detach().float().sum(head_dim)  # [B, S, T]
    return p / p.sum(-1, keepdim=True).clamp_min(TINY)  # = the head mean when every row sums to 1


def kl_to_scores(p, index_score):
    """Mean over queries of KL(p ‖ softmax(index_score)): p, index_score [B,S,N] -> scalar.

    -inf scores mark keys outside the support (future keys, empty slots); p must be 0 there.
    Written as cross-entropy minus entropy so masked entries (0 · -inf) never reach the gradient.
    """
    log_q = index_score.float().log_softmax(-1)  # [B, S, N]
    cross = -(p * log_q.masked_fill(p == 0, 0.0)).sum(-1)  # [B, S]
    entropy = -(p * p.clamp_min(TINY).log()).sum(-1)  # constant in the indexer's weights [B, S]
    return (cross - entropy).mean()


def dense_warmup_loss(index_score, probs):
    """Stage 1: index_score [B,S,T] (-inf in the future), dense probs [B,H,S,T] -> scalar KL."""
    return kl_to_scores(attention_target(probs), index_score)


def selected_scores(index_score, topk_indices):
    """Index scores on the selected slots: [B,S,T], idx [B,S,K] (-1 = empty) -> [B,S,K], -inf if empty."""
    picked = index_score.gather(-1, topk_indices.clamp(min=0))  # [B, S, K]
    return picked.masked_fill(topk_indices < 0, float("-inf"))


def sparse_indexer_loss(index_score, sparse_probs, topk_indices):
    """Stage 2, reading (A): index_score [B,S,T], sparse_probs [B,S,H,K] (per-head softmax over S_t),
    topk_indices [B,S,K] -> scalar KL over S_t only."""
    p = attention_target(sparse_probs, head_dim=2).masked_fill(topk_indices < 0, 0.0)  # [B, S, K]
    p = p / p.sum(-1, keepdim=True).clamp_min(TINY)
    return kl_to_scores(p, selected_scores(index_score, topk_indices))


def restricted_target(probs, topk_indices):
    """Reading (B): dense probs [B,H,S,T] summed over heads, restricted to S_t, renormalised -> [B,S,K]."""
    p = attention_target(probs).gather(-1, topk_indices.clamp(min=0))  # [B, S, K]
    p = p.masked_fill(topk_indices < 0, 0.0)
    return p / p.sum(-1, keepdim=True).clamp_min(TINY)
