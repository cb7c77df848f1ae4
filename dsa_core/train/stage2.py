"""Stage 2, sparse training: the model runs DSA in every layer and learns with the LM loss, while
each indexer keeps learning from the attention it now selects for.

DeepSeek-V3.2-Exp report, section 2.1 "Sparse training stage": after the dense warm-up, attention
runs only over the top-k set S_t; the indexer's loss becomes the KL on S_t
(losses.sparse_indexer_loss, reading (A): the per-head softmax over S_t that the model really ran,
summed over heads and renormalised). Three separations: the indexer reads x.detach(), and its teacher
is built from q.detach(), k.detach() under no_grad (else L_I would train the attention through it), so
L_I cannot reach the model; top-k is discrete, so the LM loss cannot reach the indexer. The paper separates
the two optimisations the same way. No official training code was released; AdamW, the learning
rates and the short budgets are our choices (docs/training.md).
`dense=True` gives the control run: the same data, steps and learning rate with dense attention, so
a perplexity change can be split into "recovered from sparsity" and "learned from the data".
"""

import time

import torch
import torch.nn.functional as F

from dsa_core.sparse import sparse_attention_probs
from dsa_core.topk import select_topk
from dsa_core.train.losses import sparse_indexer_loss
from dsa_core.train.stage1 import lr_factor


def recording_select(topk, indexer_losses):
    """A model.py selection that also appends each layer's stage-2 indexer loss to `indexer_losses`."""

    def select(attn, x, q, k):
        T = x.shape[1]
        score = attn.indexer(x.detach())  # grads reach the indexer only  [B,T,T]
        idx = select_topk(score.detach(), min(topk, T))  # [B,T,K]
        with torch.no_grad():  # the target: what sparse attention really did
            probs = sparse_attention_probs(q.detach(), k.detach(), idx)  # [B,T,H,K]
        indexer_losses.append(sparse_indexer_loss(score, probs, idx))
        return idx

    return select


def lm_loss(logits, ids):
    """Mean next-token cross-entropy: logits [B,T,V], ids [B,T] -> scalar."""
    return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), ids[:, 1:].flatten())


def accumulate_gradients(model, batch, topk, micro_batch=None, dense=False):
    """One step's gradients over batch [B,T] of windows, micro_batch windows at a time (they add up to
    the whole batch's: each part's loss is weighted by its share) -> (lm loss, indexer loss or None)."""
    lm_total, ix_total = 0.0, None if dense else 0.0
    for ids in batch.split(micro_batch or len(batch)):  # [b, T]
        indexer_losses = []
        select = None if dense else recording_select(topk, indexer_losses)
        loss = lm_loss(model(ids, select), ids)
        ix_loss = torch.stack(indexer_losses).mean() if indexer_losses else None
        share = len(ids) / len(batch)  # disjoint parameters: two losses, one backward pass
        ((loss if ix_loss is None else loss + ix_loss) * share).backward()
        lm_total += loss.item() * share
        ix_total = None if ix_loss is None else ix_total + ix_loss.item() * share
    return lm_total, ix_total


def train_sparse(
    model,
    windows,
    topk=128,
    steps=100,
    lr=1e-5,
    indexer_lr=1e-4,
    batch_size=4,
    micro_batch=None,
    dense=False,
    log_every=10,
    seed=0,
):
    """Stage 2 on `model` (indexers attached) over token windows [N,T]; a generator of progress dicts.

    A step averages batch_size windows, run micro_batch at a time (gradients add up): autograd through
    the gathered attention keeps K keys and values per query and layer, so memory grows with B·T·K.

    Yields every log_every steps and at the last one: {"step", "steps", "lm_loss", "indexer_loss",
    "seconds"} (indexer_loss is None when dense). Trains in place: the model and its indexers change.
    """
    indexers = [block.self_attn.indexer for block in model.layers]
    if not dense and any(ix is None for ix in indexers):
        raise ValueError("stage 2 needs an indexer in every layer; call attach_indexers() first")
    model.train()
    model_params = [p for n, p in model.named_parameters() if ".indexer." not in n]
    groups = [{"params": model_params, "lr": lr, "base": lr}]
    if not dense:
        groups.append(
            {"params": [p for ix in indexers for p in ix.parameters()], "lr": indexer_lr, "base": indexer_lr}
        )
    for group in groups:
        for p in group["params"]:
            p.requires_grad_(True)
    opt = torch.optim.AdamW(groups, betas=(0.9, 0.95), weight_decay=0.0)
    g = torch.Generator().manual_seed(seed)
    N = windows.shape[0]
    t0, lm_sum, ix_sum, n = time.time(), 0.0, 0.0, 0
    for step in range(1, steps + 1):
        for group in opt.param_groups:
            group["lr"] = group["base"] * lr_factor(step - 1, steps)
        rows = torch.randint(N, (min(batch_size, N),), generator=g)  # [B]
        lm, ix = accumulate_gradients(model, windows[rows.to(windows.device)], topk, micro_batch, dense)
        lm_sum, ix_sum = lm_sum + lm, ix_sum + (ix or 0.0)
        torch.nn.utils.clip_grad_norm_(model_params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        n += 1
        if step % log_every == 0 or step == steps:
            yield {
                "step": step,
                "steps": steps,
                "lm_loss": lm_sum / n,
                "indexer_loss": None if dense else ix_sum / n,
                "seconds": time.time() - t0,
            }
            lm_sum, ix_sum, n = 0.0, 0.0, 0
    model.requires_grad_(False).eval()
