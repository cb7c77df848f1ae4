"""index_scores equals the paper's sum written as loops; the module applies the official scalings."""

import pytest
import torch

from dsa_core import SMOLLM2_HOST, TEACHING, LightningIndexer, apply_rope_half, index_scores, rope_cos_sin


def test_index_scores_equals_an_explicit_loop():
    torch.manual_seed(0)
    B, T, h, d = 2, 7, 3, 5
    q, k, w = torch.randn(B, T, h, d), torch.randn(B, T, d), torch.randn(B, T, h)
    got = index_scores(q, k, w)
    assert got.shape == (B, T, T) and got.dtype == torch.float32
    for b in range(B):
        for t in range(T):
            for s in range(T):
                want = sum(w[b, t, j] * torch.relu(q[b, t, j] @ k[b, s]) for j in range(h))
                if s > t:
                    assert got[b, t, s] == float("-inf")
                else:
                    torch.testing.assert_close(got[b, t, s], want, rtol=1e-5, atol=1e-5)


def test_index_scores_for_fewer_queries_are_the_last_rows():
    q, k, w = torch.randn(1, 9, 2, 4), torch.randn(1, 9, 4), torch.randn(1, 9, 2)
    torch.testing.assert_close(index_scores(q[:, -2:], k, w[:, -2:]), index_scores(q, k, w)[:, -2:])


def test_bad_index_score_arguments_raise_value_error():
    q, k, w = torch.randn(1, 4, 2, 8), torch.randn(1, 4, 8), torch.randn(1, 4, 2)
    with pytest.raises(ValueError, match="mismatch"):
        index_scores(q, torch.randn(1, 4, 6), w)
    with pytest.raises(ValueError, match="NaN"):
        index_scores(q, k, torch.full_like(w, float("nan")))


def test_indexer_applies_the_official_scalings_and_rope():
    torch.manual_seed(0)
    idx = LightningIndexer(TEACHING)
    x, qr = torch.randn(1, 6, TEACHING.dim), torch.randn(1, 6, TEACHING.q_lora_rank)
    q, k, w = idx.project(x, qr, start_pos=3)
    h, d, r = TEACHING.index_n_heads, TEACHING.index_head_dim, TEACHING.index_rope_dim
    assert q.shape == (1, 6, h, d) and k.shape == (1, 6, d) and w.shape == (1, 6, h)
    torch.testing.assert_close(w, idx.weights_proj(x) * h**-0.5 * d**-0.5)
    cos, sin = rope_cos_sin(torch.arange(3, 9), r)
    raw_q = idx.wq_b(qr).view(1, 6, h, d)
    torch.testing.assert_close(q, apply_rope_half(raw_q, cos, sin))
    torch.testing.assert_close(k[..., r:], idx.k_norm(idx.wk(x))[..., r:])  # nope half untouched
    torch.testing.assert_close(idx(x, qr, 3), index_scores(q, k, w))
    assert isinstance(idx.k_norm, torch.nn.LayerNorm) and idx.k_norm.bias is not None


def test_hosts_without_a_query_latent_feed_x_to_the_indexer():
    idx = LightningIndexer(SMOLLM2_HOST)
    assert idx.wq_b.in_features == SMOLLM2_HOST.dim
    scores = idx(torch.randn(2, 5, SMOLLM2_HOST.dim))
    assert scores.shape == (2, 5, 5)
    with pytest.raises(ValueError, match="qr"):
        LightningIndexer(TEACHING)(torch.randn(1, 3, TEACHING.dim))


def test_indexer_gradients_are_finite():
    idx = LightningIndexer(SMOLLM2_HOST)
    scores = idx(torch.randn(1, 8, SMOLLM2_HOST.dim))
    scores[torch.isfinite(scores)].sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in idx.parameters() if p.grad is not None)
