"""Notebook 02 checkers: right answers pass; each known mistake gets a message naming it."""

import torch

import dsa_core as dsa
from course.checks import nb02


def _inputs(T=12):
    return dsa.toy_indexer_inputs(B=1, T=T, h=4, d=32, seed=0)


def test_index_score():
    q, k, w = _inputs()
    right = float(dsa.index_scores(q, k, w)[0, 7, 3])
    assert nb02.check_index_score(right, q, k, w, t=7, s=3)
    assert nb02.check_index_score(None, q, k, w, t=7, s=3).status == "unanswered"
    dots = q[0, 7] @ k[0, 3]  # [h]
    relu_after = float((w[0, 7] * dots).sum().relu())
    no_weight = float(dots.relu().sum())
    if abs(relu_after - right) > 1e-3:
        assert (
            "ReLU is applied to the weighted sum" in nb02.check_index_score(relu_after, q, k, w, 7, 3).message
        )
    assert "weights w are missing" in nb02.check_index_score(no_weight, q, k, w, 7, 3).message
    assert not nb02.check_index_score(right + 1.0, q, k, w, 7, 3)


def test_index_matrix():
    q, k, w = _inputs()
    T = 12
    right = dsa.index_scores(q, k, w)
    assert nb02.check_index_matrix(right, q, k, w)
    assert nb02.check_index_matrix(right[0], q, k, w)
    unmasked = (w[0, :, :, None] * torch.einsum("thd,sd->ths", q[0], k[0]).relu()).sum(1)
    fb = nb02.check_index_matrix(unmasked, q, k, w)
    assert not fb and "(t=0, s=1)" in fb.message and "future" in fb.message
    mean = (unmasked / 4).masked_fill(~dsa.causal_mask(T, T), float("-inf"))
    assert "mean over heads" in nb02.check_index_matrix(mean, q, k, w).message
    over = right[0].clone()
    over[5, 2] = float("-inf")
    assert "visible" in nb02.check_index_matrix(over, q, k, w).message
    assert "shape" in nb02.check_index_matrix(right[0, :5], q, k, w).message


def test_indexer_params():
    n = sum(p.numel() for p in dsa.LightningIndexer(dsa.V32_671B).parameters())
    assert n == nb02.indexer_params() == 13_959_424
    assert nb02.check_indexer_params(n)
    assert "k_norm" in nb02.check_indexer_params(n - 256).message
    assert "shared by all h" in nb02.check_indexer_params(n + 7168 * 128 * 63).message
    assert "query latent" in nb02.check_indexer_params(n - 1536 * 8192 + 7168 * 8192).message


def test_pair_ratio():
    assert nb02.check_pair_ratio(128 * 1088 / 8192)
    assert "upside down" in nb02.check_pair_ratio(8192 / (128 * 1088)).message
    assert "MHA mode" in nb02.check_pair_ratio(128 * 320 / 8192).message
    assert nb02.check_pair_ratio(None).status == "unanswered"
