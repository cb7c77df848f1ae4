"""The KL losses of losses.py against hand computations and their defining invariants."""

import math

import torch

from dsa_core.dense import attention_probs
from dsa_core.sparse import sparse_attention_probs
from dsa_core.topk import select_topk
from dsa_core.toy import toy_qkv
from dsa_core.train.losses import (
    attention_target,
    dense_warmup_loss,
    kl_to_scores,
    restricted_target,
    sparse_indexer_loss,
)


def test_kl_equals_hand_computation():
    p = torch.tensor([[[0.5, 0.5, 0.0]]])  # [1, 1, 3]
    scores = torch.tensor([[[0.0, math.log(3.0), float("-inf")]]])  # softmax -> [1/4, 3/4, 0]
    hand = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    assert abs(kl_to_scores(p, scores).item() - hand) < 1e-6


def test_target_is_head_mean_and_rows_sum_to_one():
    q, k, _ = toy_qkv(B=1, T=12, H=4, D=8, H_kv=2)
    probs = attention_probs(q, k)  # [1, 4, 12, 12]
    p = attention_target(probs)
    assert torch.allclose(p, probs.mean(1), atol=1e-6)
    assert torch.allclose(p.sum(-1), torch.ones(1, 12), atol=1e-6)


def test_kl_is_zero_when_scores_are_the_teacher_logits():
    q, k, _ = toy_qkv(B=1, T=10, H=1, D=8)
    probs = attention_probs(q, k)  # [1, 1, 10, 10]
    assert dense_warmup_loss(probs[:, 0].log(), probs).item() < 1e-6


def test_stage2_with_every_key_selected_equals_stage1():
    q, k, _ = toy_qkv(B=1, T=10, H=4, D=8, H_kv=2)
    probs = attention_probs(q, k)  # [1, 4, 10, 10]
    score = torch.randn(1, 10, 10).masked_fill(torch.ones(10, 10).triu(1).bool(), float("-inf"))
    idx = select_topk(score, 10)  # every causal key, -1 elsewhere
    sparse = sparse_attention_probs(q, k, idx)  # [1, 10, 4, 10]
    a, b = sparse_indexer_loss(score, sparse, idx), dense_warmup_loss(score, probs)
    assert abs(a.item() - b.item()) < 1e-5


def test_stage2_readings_a_and_b_agree_for_one_head_and_differ_for_many():
    q, k, _ = toy_qkv(B=1, T=16, H=4, D=8, seed=3)
    score = torch.randn(1, 16, 16).masked_fill(torch.ones(16, 16).triu(1).bool(), float("-inf"))
    idx = select_topk(score, 4)  # [1, 16, 4]
    a = attention_target(sparse_attention_probs(q, k, idx), head_dim=2).masked_fill(idx < 0, 0)
    b = restricted_target(attention_probs(q, k), idx)
    assert not torch.allclose(a / a.sum(-1, keepdim=True), b, atol=1e-3)
    a1 = sparse_attention_probs(q[:, :, :1], k[:, :, :1], idx)[:, :, 0]
    assert torch.allclose(a1, restricted_target(attention_probs(q[:, :, :1], k[:, :, :1]), idx), atol=1e-5)
