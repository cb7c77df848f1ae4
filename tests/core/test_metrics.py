"""Recall, overlap and the same-budget baselines."""

import pytest
import torch

from dsa_core import (
    attention_probs,
    attention_recall,
    oracle_topk,
    random_topk,
    select_topk,
    topk_overlap,
    window_topk,
)
from dsa_core.toy import toy_qkv


def _probs_mean(T=20):
    q, k, _ = toy_qkv(1, T, 3, 8)
    return attention_probs(q, k).mean(dim=1)  # [B, S, T]


def test_recall_is_one_when_every_visible_key_is_selected_and_oracle_is_best():
    p = _probs_mean()
    torch.testing.assert_close(attention_recall(p, oracle_topk(p, 20)), torch.ones(1, 20))
    best = attention_recall(p, oracle_topk(p, 4))
    for other in (window_topk(20, 4), random_topk(20, 4, seed=1)):
        assert (best >= attention_recall(p, other[None]) - 1e-6).all()
    assert attention_recall(p[0], oracle_topk(p[0], 4)).shape == (20,)


def test_overlap_counts_shared_positions_and_ignores_minus_one():
    a = torch.tensor([[0, -1, -1], [1, 0, -1], [2, 1, 0], [3, 2, 1]])
    b = torch.tensor([[0, -1, -1], [0, 1, -1], [0, 1, 3], [3, 0, 1]])
    assert topk_overlap(a, b).tolist() == pytest.approx([1.0, 1.0, 2 / 3, 2 / 3])


def test_window_keeps_sinks_and_the_recent_tokens():
    w = window_topk(10, 5, n_sinks=2)
    assert w[2].tolist() == [0, 1, 2, -1, -1]
    assert w[9].tolist() == [0, 1, 7, 8, 9]
    assert window_topk(6, 3, n_sinks=0)[5].tolist() == [3, 4, 5]


def test_random_baseline_is_causal_seeded_and_full_where_short():
    r = random_topk(30, 6, seed=3)
    assert torch.equal(r, random_topk(30, 6, seed=3))
    assert (r <= torch.arange(30)[:, None]).all()
    assert ((r >= 0).sum(-1) == torch.arange(1, 31).clamp(max=6)).all()
    assert len(set(r[29].tolist())) == 6


def test_oracle_topk_equals_select_topk_of_the_causal_probabilities():
    p = _probs_mean(12)
    masked = p.masked_fill(torch.ones(12, 12).triu(1).bool(), float("-inf"))
    assert torch.equal(oracle_topk(p, 5), select_topk(masked, 5))
