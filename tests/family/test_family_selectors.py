"""The DSA family's selectors (dsa_core/family/selectors.py): each selector equals token top-k in its
degenerate case, never looks into the future, and keeps within its budget; sharing and the layer
overlap behave as defined."""

import pytest
import torch

from dsa_core.family import selectors
from dsa_core.indexer import index_scores
from dsa_core.metrics import attention_recall
from dsa_core.pipeline import index_topk
from dsa_core.sparse import sparse_attention
from dsa_core.topk import select_topk


def _inputs(B=2, T=61, h=4, d=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(B, T, h, d, generator=g),
        torch.randn(B, T, d, generator=g),
        torch.randn(B, T, h, generator=g),
    )


def _valid(idx, T):
    """Positions are causal (≤ the query), distinct, -1 only at the end of a row."""
    S = idx.shape[1]
    pos = torch.arange(T - S, T)[None, :, None]
    assert (idx <= pos).all(), "a selector picked a future position"
    assert (idx >= -1).all()
    real = idx >= 0
    assert (real[..., :-1] | ~real[..., 1:]).all(), "-1 slots must come last"
    s = idx.sort(-1).values
    assert not ((s[..., 1:] == s[..., :-1]) & (s[..., 1:] >= 0)).any(), "a position picked twice"


@pytest.mark.parametrize("how", ["max", "mean"])
def test_block_with_b1_is_token_topk(how):
    q, k, w = _inputs()
    s = index_scores(q, k, w)
    assert torch.equal(selectors.block_topn(s, 1, 9, how, local=False), select_topk(s, 9))


def test_block_local_with_b1_is_own_token_plus_top_k_minus_1():
    q, k, w = _inputs()
    s = index_scores(q, k, w)
    out = selectors.block_topn(s, 1, 5)  # [B,T,5]
    assert torch.equal(out[..., 0], torch.arange(61).expand(2, -1))  # the own block = the query itself
    others = s.clone()
    others[:, torch.arange(61), torch.arange(61)] = float("-inf")
    assert torch.equal(out[..., 1:], select_topk(others, 4))


@pytest.mark.parametrize("chunk", [1024, 7])
def test_compressed_with_c1_is_token_topk(chunk):
    q, k, w = _inputs()
    assert torch.equal(
        selectors.compressed_topk(q, k, w, 1, 12, chunk), select_topk(index_scores(q, k, w), 12)
    )


def test_shared_with_r1_is_every_layer_own_topk():
    picks = [torch.randint(0, 9, (10, 3)) for _ in range(5)]
    src = selectors.share_sources(5, selectors.every_r(5, 1))
    assert src == list(range(5))
    assert all(picks[s] is p for s, p in zip(src, picks))  # each layer keeps its own selection


@pytest.mark.parametrize("b,n,how,local", [(4, 3, "max", True), (5, 2, "mean", True), (3, 4, "max", False)])
def test_block_is_causal_within_budget_and_block_shaped(b, n, how, local):
    q, k, w = _inputs()
    s = index_scores(q, k, w)
    out = selectors.block_topn(s, b, n, how, local)
    assert out.shape == (2, 61, n * b)  # budget k = n·b slots
    _valid(out, 61)
    blocks = torch.where(out >= 0, out // b, -1)
    for t in (0, 17, 60):
        chosen = {int(x) for x in blocks[0, t] if x >= 0}
        assert len(chosen) <= n
        if local:
            assert t // b in chosen  # the own block is always kept
        for j in chosen:  # whole blocks: every visible token of a chosen block is in
            assert {p for p in range(j * b, min(j * b + b, t + 1))} <= {int(x) for x in out[0, t]}


def test_block_max_pooling_ranks_by_the_best_key():
    s = torch.full((1, 1, 8), 0.0)
    s[0, 0, 5] = 9.0  # one strong key in block 1 (4..7) beats block 0's flat scores
    assert selectors.pool_blocks(s, 4, "max").tolist() == [[[0.0, 9.0]]]
    assert selectors.pool_blocks(s, 4, "mean").tolist() == [[[0.0, 2.25]]]
    out = selectors.block_topn(s, 4, 1, local=False)
    assert sorted(out[0, 0].tolist()) == [4, 5, 6, 7]


def test_compressed_is_causal_within_budget_and_scores_only_complete_groups():
    q, k, w = _inputs()
    c, kk = 4, 16
    out = selectors.compressed_topk(q, k, w, c, kk)
    assert out.shape == (2, 61, kk)
    _valid(out, 61)
    for t in (2, 13, 35, 60):
        groups = {int(x) // c for x in out[0, t] if x >= 0}
        if (t + 1) % c:  # the own group is still filling: it is forced, its pooled key is not used
            assert t // c in groups
        assert all(g * c + c - 1 <= t or g == t // c for g in groups)


def test_compressed_scores_equal_index_scores_against_pooled_keys():
    q, k, w = _inputs(T=32)
    k_bar = selectors.compress_keys(k, 4)  # [B,8,d]
    got = selectors.compressed_scores(q[:, -1:], k_bar, w[:, -1:], 4, 32)  # the last query sees all 8 groups
    want = (w[:, -1:, :, None] * torch.relu(torch.einsum("bshd,bgd->bshg", q[:, -1:], k_bar))).sum(2)
    assert torch.allclose(got, want, atol=1e-5)


def test_selectors_feed_sparse_attention_and_recall_unchanged():
    q, k, w = _inputs(B=1, T=40)
    qa, ka, va = torch.randn(1, 40, 4, 8), torch.randn(1, 40, 2, 8), torch.randn(1, 40, 2, 8)
    probs = torch.softmax(torch.randn(40, 40).masked_fill(torch.ones(40, 40).triu(1).bool(), -1e9), -1)
    for idx in (
        selectors.block_topn(index_scores(q, k, w), 4, 2),
        selectors.compressed_topk(q, k, w, 4, 8),
    ):
        assert torch.isfinite(sparse_attention(qa, ka, va, idx)).all()
        r = attention_recall(probs, idx[0])
        assert ((r >= 0) & (r <= 1 + 1e-5)).all()


def test_every_r_and_sources_follow_the_glm_rule():
    assert selectors.every_r(10, 4) == [0, 4, 8]
    assert selectors.every_r(10, 4, offset=3) == [0, 1, 2, 3, 7]  # max(l - 3, 0) % 4 == 0
    assert selectors.share_sources(6, [2, 4]) == [0, 0, 2, 2, 4, 4]  # layer 0 always computes


def test_jaccard_and_layer_overlap():
    a = torch.tensor([[0, 1, 2, -1], [3, 4, 5, 6]])
    b = torch.tensor([[2, 1, 7, -1], [3, 4, 5, 6]])
    assert torch.allclose(selectors.jaccard_rows(a, b), torch.tensor([2 / 4, 1.0]))
    ov = selectors.layer_overlap([a, b, a], rows=torch.tensor([True, True]))
    assert torch.allclose(ov, ov.T) and torch.allclose(ov.diagonal(), torch.ones(3))
    assert ov[0, 2] == 1 and abs(ov[0, 1] - 0.75) < 1e-6


def test_by_overlap_picks_the_layer_that_starts_a_new_pattern():
    # layers 0-2 agree, 3-5 agree with each other but not with 0-2: the second computing layer is 3
    ov = [[1.0 if (i < 3) == (j < 3) else 0.1 for j in range(6)] for i in range(6)]
    assert selectors.by_overlap(ov, 2) == [0, 3]
    assert selectors.coverage(ov, [0, 3]) == 1.0 and selectors.coverage(ov, [0]) < 0.6


def test_token_topk_matches_the_chunked_path():
    q, k, w = _inputs()
    assert torch.equal(selectors.token_topk(index_scores(q, k, w), 8), index_topk(q, k, w, 8, rows=16))


def test_bad_parameters_raise_clear_errors():
    s = index_scores(*_inputs())
    with pytest.raises(ValueError, match="block size"):
        selectors.block_topn(s, 0, 2)
    with pytest.raises(ValueError, match="pool"):
        selectors.pool_blocks(s, 2, "median")
    with pytest.raises(ValueError, match="c <= k"):
        selectors.compressed_topk(*_inputs(), 8, 4)
