"""Stage-1 training of a frozen model's lightning indexers, as a generator that yields progress.

DeepSeek-V3.2-Exp's "dense warm-up" (paper section 2.1): the model stays frozen and dense; each layer's
indexer alone learns KL(p ‖ softmax(I)), p = that layer's head-summed attention (losses.py). One loop
serves the app (one layer, live), the notebooks (plot the yielded dicts) and scripts/train_indexers.py
(all 30 layers from a precomputed store). The model is causal, so the attention input x of a prefix
equals the prefix of x: one forward pass per text gives training windows of every length.
Our efficiency choice: a step scores only the last `n_queries` queries of a random-length prefix,
O(n_queries·T) instead of O(T²); prefixes are drawn long enough that those queries see more than k
keys, because rows with ≤ k visible keys keep every key and teach the top-k nothing.
Official: no training code was released; lr 1e-3 is the paper's stage-1 value, AdamW is our choice.
"""

import math
import time

import torch

from dsa_core.dense import attention_probs
from dsa_core.indexer import LightningIndexer, index_scores
from dsa_core.metrics import attention_recall, oracle_topk, topk_overlap
from dsa_core.rope import apply_rope_half, rope_cos_sin
from dsa_core.topk import select_topk
from dsa_core.train.losses import attention_target, dense_warmup_loss


def make_indexers(cfg, layers, seed=0):
    """Fresh, seeded indexers: DSAConfig, layer ids -> {layer: LightningIndexer}."""
    torch.manual_seed(seed)
    return {layer: LightningIndexer(cfg) for layer in layers}


def fresh_copy(indexer, seed=0):
    """A re-initialised copy of a LightningIndexer (same sizes, seeded random weights): from scratch."""
    import copy

    torch.manual_seed(seed)
    new = copy.deepcopy(indexer)
    for module in new.modules():
        if module is not new and hasattr(module, "reset_parameters"):
            module.reset_parameters()
    return new.requires_grad_(False)


@torch.no_grad()
def layer_inputs(model, ids, layers):
    """Attention input x (RMSNorm(h), the indexer's input) per layer: ids [N,T] -> {layer: x [N,T,dim]}."""
    _, acts = model.hidden(ids, keep=set(layers), stop_after=max(layers))
    return {layer: acts[layer][0] for layer in layers}


@torch.no_grad()
def main_qk(model, layer, x):
    """The frozen layer's own RoPE'd queries and keys (as Attention.forward):
    x [B,T,dim] -> q [B,T,H,D], k [B,T,H_kv,D]."""
    attn = model.layers[layer].self_attn
    B, T, _ = x.shape
    cos, sin = rope_cos_sin(torch.arange(T, device=x.device), attn.D, model.cfg.rope_theta)  # [T, D]
    q = apply_rope_half(attn.q_proj(x).view(B, T, attn.H, attn.D), cos, sin)  # [B, T, H, D]
    k = apply_rope_half(attn.k_proj(x).view(B, T, attn.H_kv, attn.D), cos, sin)  # [B, T, H_kv, D]
    return q, k


def indexer_step(model, layer, indexer, x, n_queries):
    """Stage-1 loss of one layer on the last n_queries queries:
    x [B,T,dim] -> (loss, index_score [B,S,T], p [B,S,T])."""
    x = x.detach().float()  # the indexer's input is detached: L_I trains the indexer only
    T = x.shape[1]
    S = min(n_queries, T)
    q, k = main_qk(model, layer, x)
    probs = attention_probs(q[:, T - S :], k)  # the teacher: dense, frozen, no grad  [B, H, S, T]
    qi, ki, w = indexer.project(x)  # q [B,T,h,d], k [B,T,d], w [B,T,h]
    index_score = index_scores(qi[:, T - S :], ki, w[:, T - S :])  # [B, S, T]
    return dense_warmup_loss(index_score, probs), index_score, attention_target(probs)


@torch.no_grad()
def selection_metrics(index_score, p, topk):
    """Recall of the indexer's and the oracle's top-k and their overlap, over queries seeing > topk keys."""
    S, T = p.shape[-2:]
    seen = torch.arange(T - S + 1, T + 1, device=p.device) > topk  # [S]
    if not seen.any():
        return {"recall": 1.0, "recall_oracle": 1.0, "overlap": 1.0}
    idx = select_topk(index_score.detach(), topk)  # [B, S, K]
    best = oracle_topk(p, topk)  # [B, S, K]
    return {
        "recall": attention_recall(p, idx)[:, seen].mean().item(),
        "recall_oracle": attention_recall(p, best)[:, seen].mean().item(),
        "overlap": topk_overlap(idx, best)[:, seen].mean().item(),
    }


def lr_factor(step, steps, warmup=0.05, floor=0.1):
    """Linear warm-up over the first 5 % of steps, then cosine decay to 10 % (our choice)."""
    w = max(1, int(warmup * steps))
    if step < w:
        return (step + 1) / w
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * (step - w) / max(1, steps - w)))


def train_indexers(
    model,
    indexers,
    inputs,
    steps=200,
    lr=1e-3,
    batch_size=4,
    n_queries=256,
    topk=128,
    log_every=10,
    seed=0,
    short_len=None,
    short_share=0.0,
):
    """Stage 1 for {layer: LightningIndexer} on a frozen model; a generator of progress dicts.

    inputs: {layer: x [N,T,dim]} (layer_inputs, or a float16 store). Each step draws batch_size of
    the N windows and one prefix length L in [min(T, topk + n_queries), T]; the loss covers the last
    n_queries queries of the prefix. With short_len, a share short_share of the steps draws L up to
    short_len only (1.0: short windows only, 0.5: a mix of lengths). Yields every log_every steps
    and at the last one:
    {"step", "steps", "loss", "recall", "recall_oracle", "overlap", "lr", "seconds",
     "layers": {layer: {"loss", "recall", "recall_oracle", "overlap"}}} (means over layers at top level).
    """
    layers = sorted(indexers)
    model.requires_grad_(False)  # stage 1: everything but the indexers stays frozen ...
    params = [
        p.requires_grad_(True) for layer in layers for p in indexers[layer].parameters()
    ]  # ... even if attached
    opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    g = torch.Generator().manual_seed(seed)
    N, T = inputs[layers[0]].shape[:2]
    lo = min(T, topk + n_queries)
    t0 = time.time()
    for step in range(1, steps + 1):
        for group in opt.param_groups:
            group["lr"] = lr * lr_factor(step - 1, steps)
        rows = torch.randint(N, (min(batch_size, N),), generator=g)  # [B]
        short = short_len and float(torch.rand(1, generator=g)) < short_share
        hi = min(T, short_len) if short else T
        L = int(torch.randint(min(lo, hi), hi + 1, (1,), generator=g))
        log = step % log_every == 0 or step == steps
        stats = {}
        for layer in layers:  # layers are independent: backward one at a time saves memory
            x = inputs[layer][rows, :L]  # [B, L, dim]
            loss, index_score, p = indexer_step(model, layer, indexers[layer], x, n_queries)
            loss.backward()
            stats[layer] = {"loss": loss.item(), **(selection_metrics(index_score, p, topk) if log else {})}
        opt.step()
        opt.zero_grad(set_to_none=True)
        if log:
            mean = {key: sum(s[key] for s in stats.values()) / len(stats) for key in stats[layers[0]]}
            yield {
                "step": step,
                "steps": steps,
                **mean,
                "lr": opt.param_groups[0]["lr"],
                "seconds": time.time() - t0,
                "layers": stats,
            }
