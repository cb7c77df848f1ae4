"""The ladder: gathered (rung 2) equals masked-dense (rung 1), and k ≥ T equals dense (rung 0)."""

import pytest
import torch

from dsa_core import (
    causal_mask,
    dense_attention,
    masked_sparse_attention,
    select_topk,
    sparse_attention,
    sparse_attention_probs,
)


def _random_selection(B, S, T, k, seed=0):
    g = torch.Generator().manual_seed(seed)
    scores = torch.rand(B, S, T, generator=g).masked_fill(~causal_mask(S, T), float("-inf"))
    return select_topk(scores, k)


@pytest.mark.parametrize(
    "B,S,H,H_kv,K", [(1, 8, 2, 2, 3), (2, 16, 4, 1, 5), (2, 12, 6, 3, 4), (1, 5, 9, 3, 8), (3, 20, 4, 2, 1)]
)
def test_gathered_and_masked_rungs_agree(B, S, H, H_kv, K):
    torch.manual_seed(0)
    q, k, v = torch.randn(B, S, H, 8), torch.randn(B, S, H_kv, 8), torch.randn(B, S, H_kv, 6)
    idx = _random_selection(B, S, S, K)
    torch.testing.assert_close(
        sparse_attention(q, k, v, idx), masked_sparse_attention(q, k, v, idx), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("k", [12, 13, 40])
def test_k_at_least_t_reproduces_dense_attention(k):
    torch.manual_seed(1)
    q, k_, v = torch.randn(2, 12, 4, 8), torch.randn(2, 12, 2, 8), torch.randn(2, 12, 2, 8)
    idx = _random_selection(2, 12, 12, k)
    dense = dense_attention(q, k_, v)
    torch.testing.assert_close(masked_sparse_attention(q, k_, v, idx), dense, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(sparse_attention(q, k_, v, idx), dense, rtol=1e-5, atol=1e-5)


def test_minus_one_slots_and_future_indices_are_ignored():
    torch.manual_seed(2)
    q, k, v = torch.randn(1, 4, 2, 4), torch.randn(1, 4, 2, 4), torch.randn(1, 4, 2, 4)
    idx = torch.tensor([[[0, -1], [1, 3], [2, 0], [3, 1]]])  # row 1 names the future key 3
    clean = torch.tensor([[[0, -1], [1, -1], [2, 0], [3, 1]]])
    torch.testing.assert_close(sparse_attention(q, k, v, idx), sparse_attention(q, k, v, clean))
    p = sparse_attention_probs(q, k, idx)
    assert p.shape == (1, 4, 2, 2) and (p[0, :2, :, 1] == 0).all()


def test_a_row_with_no_valid_slot_gives_zeros_not_nan():
    q, k, v = torch.randn(1, 3, 2, 4), torch.randn(1, 3, 2, 4), torch.randn(1, 3, 2, 4)
    idx = torch.tensor([[[-1, -1], [0, 1], [2, -1]]])
    for fn in (sparse_attention, masked_sparse_attention):
        out = fn(q, k, v, idx)
        assert torch.isfinite(out).all() and (out[0, 0] == 0).all()


def test_bad_indices_raise_value_error():
    q, k, v = torch.randn(1, 3, 2, 4), torch.randn(1, 3, 2, 4), torch.randn(1, 3, 2, 4)
    with pytest.raises(ValueError, match="topk_indices"):
        sparse_attention(q, k, v, torch.tensor([[[0], [1]]]))
    with pytest.raises(ValueError, match="topk_indices"):
        sparse_attention(q, k, v, torch.tensor([[[0], [1], [5]]]))
    with pytest.raises(ValueError, match="divisible"):
        sparse_attention(torch.randn(1, 3, 3, 4), k, v, torch.zeros(1, 3, 1, dtype=torch.long))


@pytest.mark.parametrize("attend", ["reference", "chunked"])
def test_only_the_selected_keys_and_values_are_read(attend):
    """O(S·K): a NaN in a key or value nobody selected changes nothing (it is never read, not even by the
    argument checks); a NaN in a selected one is named."""
    from dsa_core.fast.cpu import sparse_attention_chunked

    fn = sparse_attention if attend == "reference" else sparse_attention_chunked
    torch.manual_seed(3)
    q, k, v = torch.randn(1, 6, 2, 4), torch.randn(1, 6, 1, 4), torch.randn(1, 6, 1, 4)
    idx = torch.tensor([[[0, -1], [1, 0], [1, 2], [2, 0], [4, 1], [5, 4]]])  # nobody selects key 3
    clean = fn(q, k, v, idx)
    k_bad, v_bad = k.clone(), v.clone()
    k_bad[0, 3], v_bad[0, 3] = float("nan"), float("inf")
    torch.testing.assert_close(fn(q, k_bad, v_bad, idx), clean)
    k_bad[0, 1] = float("nan")  # key 1 is selected by queries 1 and 4
    with pytest.raises(ValueError, match="selected keys and values contains NaN"):
        fn(q, k_bad, v, idx)
    with pytest.raises(ValueError, match="q contains NaN"):
        fn(q.masked_fill(torch.ones_like(q, dtype=torch.bool), float("nan")), k, v, idx)
