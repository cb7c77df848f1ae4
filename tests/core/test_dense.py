"""Rung 0 is the oracle, so it is checked against PyTorch's own attention."""

import pytest
import torch
import torch.nn.functional as F

from dsa_core import attention_probs, dense_attention


@pytest.mark.parametrize("H,H_kv", [(4, 4), (4, 2), (6, 1)])
def test_dense_attention_matches_torch_sdpa_with_gqa(H, H_kv):
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 9, H, 8), torch.randn(2, 9, H_kv, 8), torch.randn(2, 9, H_kv, 5)
    rep = lambda x: x.repeat_interleave(H // H_kv, dim=2).transpose(1, 2)
    ref = F.scaled_dot_product_attention(q.transpose(1, 2), rep(k), rep(v), is_causal=True)
    torch.testing.assert_close(dense_attention(q, k, v), ref.transpose(1, 2), rtol=1e-5, atol=1e-5)


def test_attention_probs_rows_sum_to_one_and_ignore_the_future():
    q, k = torch.randn(1, 6, 2, 4), torch.randn(1, 6, 2, 4)
    p = attention_probs(q, k)
    assert p.shape == (1, 2, 6, 6) and p.dtype == torch.float32
    torch.testing.assert_close(p.sum(-1), torch.ones(1, 2, 6))
    assert (p.triu(1) == 0).all()


def test_decode_queries_sit_at_the_end_of_the_keys():
    torch.manual_seed(1)
    q, k, v = torch.randn(1, 10, 2, 4), torch.randn(1, 10, 2, 4), torch.randn(1, 10, 2, 4)
    full = dense_attention(q, k, v)
    torch.testing.assert_close(dense_attention(q[:, -3:], k, v), full[:, -3:])
    assert attention_probs(q[:, -1:], k).shape == (1, 2, 1, 10)


def test_bad_attention_arguments_raise_value_error():
    q, k, v = torch.randn(1, 4, 3, 8), torch.randn(1, 4, 2, 8), torch.randn(1, 4, 2, 8)
    with pytest.raises(ValueError, match="divisible"):
        dense_attention(q, k, v)
    with pytest.raises(ValueError, match="mismatch"):
        dense_attention(torch.randn(1, 4, 2, 6), k, v)
    with pytest.raises(ValueError, match="NaN"):
        dense_attention(torch.full((1, 4, 2, 8), float("nan")), k, v)
