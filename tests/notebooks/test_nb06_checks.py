"""Notebook 06 checkers: target normalisation, KL direction and reduction, gradient sign."""

import torch

import dsa_core as dsa
from course.checks import nb06
from dsa_core.train import losses


def _toy(T=10):
    q, k, _ = dsa.toy_qkv(1, T, 4, 64, H_kv=1, seed=0)
    iq, ik, iw = dsa.toy_indexer_inputs(1, T, 4, 32, seed=0)
    return dsa.attention_probs(q, k), dsa.index_scores(iq, ik, iw)


def test_target():
    probs, _ = _toy()
    right = losses.attention_target(probs)
    assert nb06.check_target(right, probs) and nb06.check_target(right[0], probs)
    assert nb06.check_target(None, probs).status == "unanswered"
    assert "L1-normalise" in nb06.check_target(probs[0].sum(0), probs).message
    assert "max over heads" in nb06.check_target(probs[0].max(0).values, probs).message
    assert "head 2 alone" in nb06.check_target(probs[0, 2], probs).message
    assert "shape" in nb06.check_target(right[0, :3], probs).message


def test_kl():
    probs, I = _toy()
    p = losses.attention_target(probs)
    right = losses.dense_warmup_loss(I, probs)
    assert nb06.check_kl(right, I, p) and nb06.check_kl(float(right), I, p)
    assert "sum over the 10 queries" in nb06.check_kl(right * 10, I, p).message
    log_q = I.log_softmax(-1)
    reverse = (
        (log_q.exp() * (log_q - p.clamp_min(1e-30).log())).masked_fill(~torch.isfinite(I), 0).sum(-1).mean()
    )
    assert "reverse direction" in nb06.check_kl(reverse, I, p).message
    cross = -(p * log_q.masked_fill(p == 0, 0)).sum(-1).mean()
    assert "cross-entropy" in nb06.check_kl(cross, I, p).message
    assert not nb06.check_kl("0.3", I, p).ok


def test_gradient():
    probs, I = _toy()
    p_row = losses.attention_target(probs)[0, -1]
    right = I[0, -1].softmax(-1) - p_row
    assert nb06.check_gradient(right, I[0, -1], p_row)
    assert "sign is flipped" in nb06.check_gradient(-right, I[0, -1], p_row).message
    assert "one per key" in nb06.check_gradient(right[:3], I[0, -1], p_row).message
    row3 = losses.attention_target(probs)[0, 3]  # a short row: future keys must be 0
    right3 = torch.nan_to_num(I[0, 3].softmax(-1)) - row3
    assert nb06.check_gradient(right3, I[0, 3], row3)
    bad = right3.clone()
    bad[5] = float("nan")
    assert "NaN" in nb06.check_gradient(bad, I[0, 3], row3).message


def test_stage2_gradient_exercise_is_checked_by_autograd():
    assert nb06.stage2_gradient_reach() == {"lm_loss": {"model"}, "indexer_loss": {"indexer"}}
    assert nb06.check_stage2_gradients({"lm_loss": ["model"], "indexer_loss": ["indexer"]})
    assert nb06.check_stage2_gradients(None).status == "unanswered"
    both = nb06.check_stage2_gradients({"lm_loss": ["model", "indexer"], "indexer_loss": ["indexer"]})
    assert not both and "discrete" in both.message
    leak = nb06.check_stage2_gradients({"lm_loss": ["model"], "indexer_loss": ["indexer", "model"]})
    assert not leak and "detach" in leak.message
    assert "keys" in nb06.check_stage2_gradients({"lm": ["model"]}).message
