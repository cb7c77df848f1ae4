"""Checkers for notebook 06, training the indexer (the stage-1 target, the KL loss, its gradient)."""

import torch

from course.feedback import as_number, as_tensor, close, correct, not_answered, wrong
from dsa_core.train.losses import attention_target, kl_to_scores


def check_target(answer, probs):
    """Exercise 1: the stage-1 target p [S,T] (or [1,S,T]) from per-head attention probs [1,H,S,T]."""
    name = "Exercise 1 (the teacher distribution)"
    if answer is None:
        return not_answered(name)
    x = as_tensor(answer)
    right = attention_target(probs)[0]  # [S, T]
    if x is not None and x.dim() == 3 and x.shape[0] == 1:
        x = x[0]
    if x is None or x.shape != right.shape:
        return wrong(
            name,
            f"expected shape {tuple(right.shape)} (queries × keys), got "
            f"{None if x is None else tuple(x.shape)}.",
        )
    if torch.allclose(x, right, atol=1e-5):
        return correct(
            name,
            "head-summed and L1-normalised: each row is a distribution over the "
            "visible keys (here equal to the head mean, since every head's row sums to 1).",
        )
    H = probs.shape[1]
    summed = probs[0].sum(0)
    if torch.allclose(x, summed, atol=1e-4):
        return wrong(name, f"the rows sum to {H} (one per head): L1-normalise each row so it sums to 1.")
    maxed = probs[0].max(0).values
    if torch.allclose(x, maxed / maxed.sum(-1, keepdim=True), atol=1e-5) or torch.allclose(
        x, maxed, atol=1e-5
    ):
        return wrong(name, "this takes the max over heads; DeepSeek sums the heads' probabilities.")
    for h in range(H):
        if torch.allclose(x, probs[0, h], atol=1e-5):
            return wrong(name, f"this is head {h} alone; the target combines all {H} heads.")
    if torch.isnan(x).any():
        return wrong(name, "the answer has NaN: the future entries are 0, not -inf or NaN.")
    if (x < -1e-6).any():
        return wrong(name, "the answer has negative entries; probabilities summed over heads are ≥ 0.")
    return wrong(name, f"rows sum to {x.sum(-1)[:3].tolist()}…; expected Σ_h P_h[t, :] / ‖Σ_h P_h[t, :]‖₁.")


def check_kl(answer, index_score, p):
    """Exercise 2: mean over queries of KL(p ‖ softmax(I)); index_score [1,S,T] (-inf future), p [1,S,T]."""
    name = "Exercise 2 (the KL loss)"
    if answer is None:
        return not_answered(name)
    x = as_number(answer)
    if x is None:
        return wrong(name, f"expected one number (a 0-d tensor or a float), got {type(answer).__name__}.")
    right = float(kl_to_scores(p, index_score))
    if close(x, right, 1e-4):
        return correct(
            name, f"KL = {right:.4f} nats per query, equal to dsa_core.train.losses.dense_warmup_loss."
        )
    S = p.shape[1]
    if close(x, right * S, 1e-4):
        return wrong(
            name,
            f"that is the sum over the {S} queries; we take the mean (the paper's Σ_t is a "
            "constant factor, and a mean keeps the learning rate independent of length).",
        )
    log_q = index_score.float().log_softmax(-1)
    q = log_q.exp()
    visible = torch.isfinite(index_score)
    log_p = p.clamp_min(1e-30).log()
    reverse = (q * (log_q - log_p)).masked_fill(~visible, 0).sum(-1).mean()
    if close(x, float(reverse), 1e-3):
        return wrong(
            name,
            "this is KL(softmax(I) ‖ p), the reverse direction. KL is not symmetric: the "
            "teacher p comes first, KL(p ‖ softmax(I)).",
        )
    cross = -(p * log_q.masked_fill(p == 0, 0)).sum(-1).mean()
    if close(x, float(cross), 1e-4):
        return wrong(
            name,
            "this is the cross-entropy; subtract the entropy of p (or use Σ p·(log p − log q)). "
            "Same gradient, but not the KL value.",
        )
    raw = -(p * index_score.masked_fill(~visible, 0)).sum(-1).mean()
    if close(x, float(raw), 1e-4):
        return wrong(name, "the index scores go through a log-softmax first: q = softmax(I[t, :]).")
    return wrong(name, f"{x:.4f} is not it: mean over t of Σ_s p[t,s]·(log p[t,s] − log softmax(I[t,:])[s]).")


def check_gradient(answer, index_row, p_row):
    """Exercise 3: the gradient of KL(p ‖ softmax(I)) for ONE query row with respect to its scores I."""
    name = "Exercise 3 (the gradient)"
    if answer is None:
        return not_answered(name)
    x = as_tensor(answer)
    scores = index_row.detach().float().reshape(1, 1, -1).clone().requires_grad_(True)  # [1,1,T]
    kl_to_scores(p_row.reshape(1, 1, -1).float(), scores).backward()
    right = scores.grad.reshape(-1)  # [T]
    if x is None or x.numel() != right.numel():
        return wrong(
            name,
            f"expected {right.numel()} numbers (one per key), got {None if x is None else tuple(x.shape)}.",
        )
    x = x.reshape(-1)
    if torch.isnan(x).any():
        return wrong(
            name, "NaN in the answer: masked (future) keys have softmax 0 and p 0, so their gradient is 0."
        )
    if torch.allclose(x, right, atol=1e-5):
        return correct(
            name,
            "softmax(I) − p: scores of keys the teacher likes more than the indexer "
            "does go up, the others down; they sum to zero.",
        )
    if torch.allclose(x, -right, atol=1e-5):
        return wrong(
            name,
            "the sign is flipped: the gradient is softmax(I) − p (gradient DEscent then moves I towards p).",
        )
    if torch.allclose(x, p_row.reshape(-1).float(), atol=1e-5):
        return wrong(name, "that is p itself; the gradient is softmax(I) − p.")
    return wrong(
        name,
        f"differs from autograd by up to {float((x - right).abs().max()):.4f}; "
        "for KL(p ‖ softmax(I)) with Σp = 1 the gradient is softmax(I) − p.",
    )


def stage2_gradient_reach(seed=0):
    """Which parameters each stage-2 loss reaches, found by autograd on a tiny random model with one
    indexer per layer: {"lm_loss": {"model" and/or "indexer"}, "indexer_loss": {...}}."""
    from dataclasses import replace

    from dsa_core.config import SMOLLM2_HOST
    from dsa_core.host.model import ModelConfig, Transformer, attach_indexers
    from dsa_core.indexer import LightningIndexer
    from dsa_core.train.stage2 import lm_loss, recording_select

    torch.manual_seed(seed)
    cfg = ModelConfig(vocab_size=64, dim=32, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=8, hidden_dim=64)
    ix_cfg = replace(SMOLLM2_HOST, dim=32, index_n_heads=2, index_head_dim=8, index_topk=4)
    model = attach_indexers(Transformer(cfg), [LightningIndexer(ix_cfg) for _ in range(cfg.n_layers)])
    model.requires_grad_(True)
    ids = torch.randint(64, (1, 16))  # [1, T]
    indexer_losses = []
    losses = {"lm_loss": lm_loss(model(ids, recording_select(4, indexer_losses)), ids)}
    losses["indexer_loss"] = torch.stack(indexer_losses).mean()
    reach = {}
    for name, loss in losses.items():
        model.zero_grad(set_to_none=True)
        loss.backward(retain_graph=True)
        reach[name] = {
            "indexer" if ".indexer." in n else "model"
            for n, p in model.named_parameters()
            if p.grad is not None and p.grad.abs().sum() > 0
        }
    return reach


def check_stage2_gradients(answer):
    """Exercise 4: {"lm_loss": [...], "indexer_loss": [...]}, each a list of "model" / "indexer"."""
    name = "Exercise 4 (who learns from which stage-2 loss)"
    if answer is None:
        return not_answered(name)
    if not isinstance(answer, dict) or set(answer) != {"lm_loss", "indexer_loss"}:
        return wrong(name, 'expected a dict with the keys "lm_loss" and "indexer_loss".')
    given = {k: {str(x).strip().lower() for x in v} for k, v in answer.items()}
    if any(not g <= {"model", "indexer"} for g in given.values()):
        return wrong(name, 'name the parts as "model" or "indexer".')
    truth = stage2_gradient_reach()  # measured by autograd, not typed in
    if given == truth:
        return correct(
            name,
            "autograd agrees: the LM loss trains only the model (top-k is a discrete choice, "
            "no gradient flows back into the index scores) and the KL loss only the indexer "
            "(its input x is detached).",
        )
    if "indexer" in given["lm_loss"]:
        return wrong(
            name,
            "the LM loss does not reach the indexer: the model uses the index scores only "
            "through top-k, a discrete choice with no gradient. That is why the indexer "
            "needs its own loss.",
        )
    if "model" in given["indexer_loss"]:
        return wrong(
            name,
            "the indexer's loss does not reach the model: its input is x.detach() "
            "(dsa_core.train.stage2.recording_select), as in DeepSeek's recipe.",
        )
    return wrong(
        name,
        f"autograd finds { ({k: sorted(v) for k, v in truth.items()}) }; each loss reaches exactly one part.",
    )
