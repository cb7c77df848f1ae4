"""Block-by-block selection equals the one-shot selection, and never needs a T×T matrix."""

import pytest
import torch

from dsa_core import index_scores, index_topk, select_topk
from dsa_core.toy import toy_indexer_inputs


@pytest.mark.parametrize("T,chunk,k", [(50, 8, 7), (33, 1, 4), (20, 64, 30), (64, 16, 64)])
def test_chunked_equals_unchunked(T, chunk, k):
    q, k_, w = toy_indexer_inputs(2, T, 3, 8, seed=T)
    want = select_topk(index_scores(q, k_, w), k)
    assert torch.equal(index_topk(q, k_, w, k, rows=chunk), want)


def test_chunked_handles_fewer_queries_than_keys():
    q, k, w = toy_indexer_inputs(1, 40, 2, 8)
    want = select_topk(index_scores(q, k, w), 5)[:, -9:]
    assert torch.equal(index_topk(q[:, -9:], k, w[:, -9:], 5, rows=4), want)


def test_chunked_equals_unchunked_with_many_ties():
    q, k, w = toy_indexer_inputs(1, 30, 1, 4)
    q, k = q.round(), k.round()  # integer dot products: lots of exactly equal scores
    want = select_topk(index_scores(q, k, w), 6)
    assert torch.equal(index_topk(q, k, w, 6, rows=7), want)


def test_bad_rows_raise_value_error():
    q, k, w = toy_indexer_inputs(1, 4, 2, 8)
    with pytest.raises(ValueError, match="rows"):
        index_topk(q, k, w, 2, rows=0)


def test_toy_inputs_are_reproducible_from_the_seed():
    a, b = toy_indexer_inputs(1, 8, 2, 4, seed=5), toy_indexer_inputs(1, 8, 2, 4, seed=5)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(a[0], toy_indexer_inputs(1, 8, 2, 4, seed=6)[0])
