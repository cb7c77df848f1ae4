"""Selection: best first, ties to the lower position, -1 for slots with no visible key, never the future."""

import pytest
import torch

from dsa_core import causal_mask, index_scores, select_topk, topk_mask

INF = float("inf")


def test_select_topk_orders_best_first_and_breaks_ties_by_lower_position():
    scores = torch.tensor([[[1.0, 3.0, 3.0, -0.0, 0.0, 3.0]]])
    assert select_topk(scores, 4).tolist() == [[[1, 2, 5, 0]]]
    assert select_topk(scores, 6).tolist() == [[[1, 2, 5, 0, 3, 4]]]


def test_rows_with_fewer_visible_keys_get_minus_one_slots():
    scores = torch.zeros(1, 4, 4).masked_fill(~causal_mask(4, 4), -INF)
    assert select_topk(scores, 3).tolist() == [[[0, -1, -1], [0, 1, -1], [0, 1, 2], [0, 1, 2]]]
    assert select_topk(scores, 6)[0, 3].tolist() == [0, 1, 2, 3, -1, -1]


def test_no_selected_index_lies_in_the_future_and_rows_select_min_k_t_plus_one():
    torch.manual_seed(0)
    T, k = 40, 8
    scores = index_scores(torch.randn(2, T, 3, 4), torch.randn(2, T, 4), torch.randn(2, T, 3))
    idx = select_topk(scores, k)
    t = torch.arange(T)[None, :, None]
    assert (idx <= t).all()
    assert ((idx >= 0).sum(-1) == torch.clamp(torch.arange(1, T + 1), max=k)).all()


def test_topk_mask_marks_exactly_the_selected_positions():
    idx = torch.tensor([[[2, 0, -1], [1, -1, -1]]])
    assert topk_mask(idx, 4).tolist() == [[[True, False, True, False], [False, True, False, False]]]


@pytest.mark.parametrize("k", [0, -3, 2.5])
def test_non_positive_or_non_integer_k_raises_value_error(k):
    with pytest.raises(ValueError, match="k must be"):
        select_topk(torch.zeros(1, 2, 2), k)


def test_nan_scores_raise_value_error():
    with pytest.raises(ValueError, match="NaN"):
        select_topk(torch.full((1, 2, 2), float("nan")), 1)


def test_random_ties_match_a_stable_sort_reference():
    g = torch.Generator().manual_seed(0)
    scores = torch.randint(-3, 4, (3, 12, 40), generator=g).float()  # few values: ties everywhere
    scores = scores.masked_fill(~causal_mask(12, 40), -INF)
    order = torch.sort(scores, dim=-1, descending=True, stable=True)
    want = order.indices[..., :9].masked_fill(order.values[..., :9] == -INF, -1)
    assert torch.equal(select_topk(scores, 9), want)


def test_numpy_integer_k_is_accepted():
    import numpy as np

    assert select_topk(torch.zeros(1, 2, 2), np.int64(1)).shape == (1, 2, 1)
