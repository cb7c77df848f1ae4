"""Checkers for notebook 06, training the indexer (the stage-1 target, the KL loss, its gradient, and
which parameters each stage-2 loss reaches). Exercises 1-3 run the student's function on inputs of
the checker's own; exercise 4 is checked by autograd on a tiny model."""

import torch
import torch.nn.functional as F

from course.feedback import check_function, correct, not_answered, wrong
from dsa_core.dense import attention_probs
from dsa_core.train.losses import attention_target, dense_warmup_loss, kl_to_scores, sparse_indexer_loss

LOSSES = {
    "losses.attention_target": attention_target,
    "losses.kl_to_scores": kl_to_scores,
    "losses.dense_warmup_loss": dense_warmup_loss,
    "losses.sparse_indexer_loss": sparse_indexer_loss,
    "F.kl_div": F.kl_div,
    "torch.kl_div": "kl_div",  # the builtin under F.kl_div and nn.KLDivLoss, by any route
}


def _probs_cases():
    """Per-head causal attention probabilities [B, H, S, T] and index scores [B, S, T] (−inf future)."""
    g = torch.Generator().manual_seed(61)
    cases = []
    for B, H, T, label in (
        (1, 3, 6, "B = 1, H = 3 heads, T = 6"),
        (2, 4, 9, "B = 2, H = 4, T = 9"),
        (1, 1, 5, "H = 1 (one head)"),
        (1, 2, 1, "T = 1 (a single token)"),
    ):
        q, k = torch.randn(B, T, H, 8, generator=g), torch.randn(B, T, H, 8, generator=g)
        probs = attention_probs(q, k)  # [B, H, T, T], zeros in the future
        future = torch.ones(T, T, dtype=torch.bool).triu(1)
        scores = (2 * torch.randn(B, T, T, generator=g)).masked_fill(future, float("-inf"))
        cases.append((probs, scores, label))
    return cases


def check_target_function(fn):
    """Exercise 1: the student's my_target(probs [B,H,S,T]) -> the stage-1 teacher p [B,S,T]."""
    cases = []
    for probs, _, label in _probs_cases():
        summed = probs.sum(1)
        maxed = probs.max(1).values
        mistakes = {
            "the rows sum to H (one per head): L1-normalise each row so it sums to 1.": summed,
            "this takes the max over heads; DeepSeek SUMS the heads' probabilities, then normalises.": (
                maxed / maxed.sum(-1, keepdim=True)
            ),
            "this is head 0 alone; the target combines all heads.": probs[:, 0],
            "this normalises over the queries (dim -2); each query's row must sum to 1 (dim -1).": (
                summed / summed.sum(-2, keepdim=True)
            ),
            "this is a softmax of the summed probabilities; L1-normalise instead (divide by the row sum).": (
                summed.masked_fill(summed == 0, float("-inf")).softmax(-1)
            ),
        }
        cases.append(
            {"args": (probs,), "right": attention_target(probs), "label": label, "mistakes": mistakes}
        )
    return check_function(
        "Exercise 1 (the teacher distribution)",
        fn,
        cases,
        LOSSES,
        signature="my_target(probs)",
        done="head-summed and L1-normalised on the checker's own attention (batches, one head, one "
        "token); equal to the head mean here, because every head's row already sums to 1.",
    )


def _kl_mistakes(p, scores):
    log_q = scores.log_softmax(-1)
    q = log_q.exp()
    visible = torch.isfinite(scores)
    log_p = p.clamp_min(1e-30).log()
    terms = (p * (log_p - log_q)).masked_fill(p == 0, 0.0).sum(-1)  # [B, S]
    return {
        "that is the SUM over queries; take the mean over every query row (B·S of them).": terms.sum(),
        "this is KL(softmax(I) ‖ p), the reverse direction. The teacher p comes first.": (
            (q * (log_q - log_p)).masked_fill(~visible, 0.0).sum(-1).mean()
        ),
        "this is the cross-entropy −Σ p·log q; the KL subtracts p's entropy (Σ p·log p).": (
            -(p * log_q.masked_fill(p == 0, 0.0)).sum(-1).mean()
        ),
        "this uses log base 2; the loss is in nats (natural log).": terms.mean()
        / torch.log(torch.tensor(2.0)),
        "the index scores go through a log-softmax first: q = softmax(I[t, :]).": (
            (p * (log_p - scores.masked_fill(~visible, 0.0))).masked_fill(p == 0, 0.0).sum(-1).mean()
        ),
    }


def check_kl_function(fn):
    """Exercise 2: the student's my_kl(scores [B,S,T], p [B,S,T]) -> mean over rows of KL(p ‖ softmax)."""
    cases = []
    for probs, scores, label in _probs_cases():
        p = attention_target(probs)
        cases.append(
            {
                "args": (scores, p),
                "right": kl_to_scores(p, scores),
                "label": label,
                "mistakes": _kl_mistakes(p, scores),
                "nan": "p is 0 on the future keys and log softmax(I) is −∞ there: 0·(−∞) and 0·log 0 are "
                "NaN in floating point. Those terms are 0 by definition: mask them (where p == 0).",
            }
        )
    return check_function(
        "Exercise 2 (the KL loss)",
        fn,
        cases,
        LOSSES,
        signature="my_kl(scores, p)",
        done="equal to dsa_core.train.losses.kl_to_scores on the checker's own rows (batches, one "
        "token), zero terms masked, in nats, mean over rows.",
    )


def check_gradient_function(fn):
    """Exercise 3: the student's my_grad(scores_row [T] with −inf, p_row [T]) -> d KL / d scores [T]."""
    cases = []
    for probs, scores, label in _probs_cases():
        p = attention_target(probs)
        for b, t in ((0, scores.shape[1] - 1), (0, scores.shape[1] // 2)):
            row, p_row = scores[b, t], p[b, t]
            leaf = row.clone().requires_grad_(True)
            kl_to_scores(p_row[None, None], leaf[None, None]).backward()
            soft = row.softmax(-1)
            mistakes = {
                "the sign is flipped: the gradient is softmax(I) − p (descent then moves I towards p).": p_row
                - soft,
                "that is p itself; the gradient is softmax(I) − p.": p_row,
                "that is softmax(I) alone; subtract the teacher p.": soft,
            }
            cases.append(
                {
                    "args": (row, p_row),
                    "right": leaf.grad,
                    "label": f"{label}, query {t}",
                    "mistakes": mistakes,
                    "nan": "masked (future) keys have softmax 0 and p 0, so their gradient is 0.",
                }
            )
    forbidden = LOSSES | {
        "torch.autograd.grad": torch.autograd.grad,
        "Tensor.backward": torch.Tensor.backward,
    }
    return check_function(
        "Exercise 3 (the gradient)",
        fn,
        cases,
        forbidden,
        signature="my_grad(scores_row, p_row)",
        done="softmax(I) − p, equal to autograd on the checker's rows: keys the teacher likes more "
        "than the indexer does go up, the others down; the entries sum to zero.",
    )


def _stage2_gradient_reach(seed=0):
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
    parts = {k: [v] if isinstance(v, str) else v for k, v in answer.items()}  # "model" means ["model"]
    try:
        given = {k: {str(x).strip().lower() for x in v} for k, v in parts.items()}
    except TypeError:
        return wrong(name, 'each value is a list of parts, e.g. ["model"] or ["model", "indexer"].')
    if any(not g <= {"model", "indexer"} for g in given.values()):
        return wrong(name, 'name the parts as "model" or "indexer", e.g. ["model"] or ["model", "indexer"].')
    truth = _stage2_gradient_reach()  # measured by autograd, not typed in
    if given == truth:
        return correct(
            name,
            "autograd agrees: the LM loss trains only the model (top-k is a discrete choice, "
            "no gradient flows back into the index scores) and the KL loss only the indexer "
            "(its input x is detached, and so is its teacher, built from the model's q·k).",
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
            "the indexer's loss does not reach the model: its input is x.detach() and its teacher is "
            "built from the model's q·k without gradient (dsa_core.train.stage2.recording_select), as "
            "in DeepSeek's recipe.",
        )
    empty = [k for k, v in given.items() if not v]
    if empty:  # a hint, never the answer
        return wrong(
            name,
            f"{empty[0]} reaches no part in your answer, but every loss here trains something: which "
            "parameters does that loss's computation use with gradients on?",
        )
    return wrong(name, "each loss reaches exactly one part: which parameters does each loss's graph reach?")
