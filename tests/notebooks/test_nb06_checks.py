"""Notebook 06 checkers: the stub, each named mistake, the shortcuts (all fail) and the solutions (pass)."""

import math

import torch

import dsa_core as dsa
from course.checks import nb06
from dsa_core.train import losses


def solution_target(probs):
    summed = probs.sum(1)  # [B, S, T]: sum over heads
    return summed / summed.sum(-1, keepdim=True)


def test_target_function():
    assert nb06.check_target_function(solution_target)
    assert nb06.check_target_function(lambda probs: probs.mean(1))  # equal: every head's row sums to 1
    assert nb06.check_target_function(None).status == "unanswered"
    named = {
        "rows sum to H": lambda probs: probs.sum(1),
        "max over heads": lambda probs: solution_target(probs.max(1, keepdim=True).values),
        "head 0 alone": lambda probs: probs[:, 0],
        "over the queries": lambda probs: probs.sum(1) / probs.sum(1).sum(-2, keepdim=True),
        "softmax of the summed": lambda probs: probs.sum(1)
        .masked_fill(probs.sum(1) == 0, float("-inf"))
        .softmax(-1),
    }
    for words, fn in named.items():
        fb = nb06.check_target_function(fn)
        assert not fb and words in fb.message, (words, fb)
    library = nb06.check_target_function(losses.attention_target)
    assert not library and "attention_target" in library.message
    q, k, _ = dsa.toy_qkv(1, 10, 4, 64, H_kv=1, seed=0)
    copied = losses.attention_target(dsa.attention_probs(q, k))  # the notebook's own p, copied
    assert "expected a function" in nb06.check_target_function(copied).message
    assert "shape" in nb06.check_target_function(lambda probs: copied).message


def solution_kl(scores, p):
    log_q = scores.log_softmax(-1)
    terms = p * (p.clamp_min(1e-30).log() - log_q)
    return terms.masked_fill(p == 0, 0.0).sum(-1).mean()  # 0·log 0 = 0 by definition


def test_kl_function():
    assert nb06.check_kl_function(solution_kl)
    assert nb06.check_kl_function(None).status == "unanswered"

    def unmasked(scores, p):  # NaN from 0·log 0 and 0·(−∞)
        return (p * (p.log() - scores.log_softmax(-1))).sum(-1).mean()

    def reverse(scores, p):
        log_q = scores.log_softmax(-1)
        return (
            (log_q.exp() * (log_q - p.clamp_min(1e-30).log()))
            .masked_fill(~torch.isfinite(scores), 0)
            .sum(-1)
            .mean()
        )

    named = {
        "NaN": unmasked,
        "reverse direction": reverse,
        "SUM over queries": lambda s, p: solution_kl(s, p) * s.shape[0] * s.shape[1],
        "cross-entropy": lambda s, p: -(p * s.log_softmax(-1).masked_fill(p == 0, 0)).sum(-1).mean(),
        "log base 2": lambda s, p: solution_kl(s, p) / math.log(2),
    }
    for words, fn in named.items():
        fb = nb06.check_kl_function(fn)
        assert not fb and words in fb.message, (words, fb)
    for shortcut, words in (
        (lambda s, p: losses.kl_to_scores(p, s), "kl_to_scores"),
        (
            lambda s, p: torch.nn.functional.kl_div(s.log_softmax(-1), p, reduction="sum")
            / (s.shape[0] * s.shape[1]),
            "kl_div",
        ),
        (  # the builtin under F.kl_div, called directly
            lambda s, p: torch.kl_div(s.log_softmax(-1), p, 0).nan_to_num(0.0).sum(-1).mean(),
            "torch.kl_div",
        ),
    ):
        fb = nb06.check_kl_function(shortcut)
        assert not fb and words in fb.message, (words, fb)
    assert "expected a function" in nb06.check_kl_function(0.2693).message  # the printed value


def solution_grad(scores_row, p_row):
    return scores_row.softmax(-1) - p_row


def test_gradient_function():
    assert nb06.check_gradient_function(solution_grad)
    assert nb06.check_gradient_function(None).status == "unanswered"
    named = {
        "sign is flipped": lambda s, p: p - s.softmax(-1),
        "p itself": lambda s, p: p,
        "softmax(I) alone": lambda s, p: s.softmax(-1),
    }
    for words, fn in named.items():
        fb = nb06.check_gradient_function(fn)
        assert not fb and words in fb.message, (words, fb)

    def by_autograd(s, p):
        leaf = s.clone().requires_grad_(True)
        losses.kl_to_scores(p[None, None], leaf[None, None]).backward()
        return leaf.grad

    def by_backward(s, p):
        leaf = s.clone().requires_grad_(True)
        log_q = leaf.log_softmax(-1)
        (-(p * log_q.masked_fill(p == 0, 0)).sum()).backward()
        return leaf.grad

    assert "kl_to_scores" in nb06.check_gradient_function(by_autograd).message
    assert "backward" in nb06.check_gradient_function(by_backward).message
    assert "expected a function" in nb06.check_gradient_function(torch.zeros(10)).message


def test_stage2_gradient_exercise_is_checked_by_autograd():
    assert nb06._stage2_gradient_reach() == {"lm_loss": {"model"}, "indexer_loss": {"indexer"}}
    assert nb06.check_stage2_gradients({"lm_loss": ["model"], "indexer_loss": ["indexer"]})
    assert nb06.check_stage2_gradients(None).status == "unanswered"
    both = nb06.check_stage2_gradients({"lm_loss": ["model", "indexer"], "indexer_loss": ["indexer"]})
    assert not both and "discrete" in both.message
    leak = nb06.check_stage2_gradients({"lm_loss": ["model"], "indexer_loss": ["indexer", "model"]})
    assert not leak and "detach" in leak.message
    assert "keys" in nb06.check_stage2_gradients({"lm": ["model"]}).message
    assert nb06.check_stage2_gradients(
        {"lm_loss": "model", "indexer_loss": "indexer"}
    )  # strings read as one part
    for empty in ({"lm_loss": [], "indexer_loss": ["indexer"]}, {"lm_loss": ["model"], "indexer_loss": []}):
        fb = nb06.check_stage2_gradients(empty)  # a hint, not the answer
        assert not fb and "reaches no part" in fb.message and "'model'" not in fb.message, fb
        assert "'indexer'" not in fb.message and "['" not in fb.message, fb


def test_no_public_answer_helpers():
    """Only the check_* functions are public in every checker module (all of course/checks/nb*.py)."""
    import importlib
    import pathlib

    import course.checks

    names = sorted(p.stem for p in pathlib.Path(course.checks.__file__).parent.glob("nb[0-9][0-9].py"))
    assert len(names) >= 8, names
    for module in (importlib.import_module(f"course.checks.{n}") for n in names):
        public = [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n))]
        own = [n for n in public if getattr(getattr(module, n), "__module__", "") == module.__name__]
        assert all(n.startswith("check_") for n in own), (module.__name__, own)
