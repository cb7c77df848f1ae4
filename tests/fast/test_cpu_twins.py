"""The fast CPU twins give exactly what the reference gives: same scores, same picks, same tie-breaks.

dsa_core.fast.cpu.select_topk_fast against dsa_core.topk.select_topk (a stable sort of every row), on
rows full of ties, -0.0 and rows that see nothing; chunked selection with the twin against the
reference; index_scores' head loop against the all-heads-at-once form of the same equation.
Sparse attention must not depend on its block size.
"""

import pytest
import torch

from dsa_core import causal_mask, index_scores, select_topk, sparse_attention
from dsa_core.fast.cpu import index_scores_fast, select_topk_fast, sparse_attention_chunked
from dsa_core.pipeline import select_keys, top_k
from dsa_core.toy import toy_indexer_inputs

INF = float("inf")


def all_heads_at_once(q, k, w):
    """The same equation with every head in one einsum (no loop over heads)."""
    S, T = q.shape[1], k.shape[1]
    logits = torch.einsum("bshd,btd->bsht", q, k)  # [B, S, h, T]
    scores = (w[..., None] * logits.relu()).sum(dim=2)  # [B, S, T]
    return scores.masked_fill(~causal_mask(S, T), -INF)


@pytest.mark.parametrize(
    "B,S,T,h,d",
    [(1, 40, 40, 4, 32), (2, 17, 50, 3, 8), (1, 64, 300, 8, 16), (3, 5, 5, 1, 4), (1, 33, 1000, 4, 32)],
)
def test_index_scores_head_loop_equals_all_heads_at_once(B, S, T, h, d):
    g = torch.Generator().manual_seed(S * T + h)
    q, k, w = (torch.randn(*shape, generator=g) for shape in ((B, S, h, d), (B, T, d), (B, S, h)))
    torch.testing.assert_close(index_scores(q, k, w), all_heads_at_once(q, k, w), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize(
    "B,S,T,h,d",
    [(1, 40, 40, 4, 32), (2, 17, 50, 3, 8), (1, 64, 300, 8, 16), (3, 5, 5, 1, 4), (1, 33, 1000, 4, 64)],
)
def test_index_scores_fast_equals_the_head_loop(B, S, T, h, d):
    g = torch.Generator().manual_seed(S * T + h + 1)
    q, k, w = (torch.randn(*shape, generator=g) for shape in ((B, S, h, d), (B, T, d), (B, S, h)))
    ref, fast = index_scores(q, k, w), index_scores_fast(q, k, w)
    assert torch.equal(ref == -INF, fast == -INF)  # the same causal mask
    torch.testing.assert_close(fast, ref, rtol=1e-5, atol=1e-5)
    # away from near-ties the picks are the same
    assert torch.equal(select_topk(fast, min(8, T)), select_topk(ref, min(8, T)))


def _tie_heavy_scores(seed, B=2, S=24, T=300):
    """ReLU-like scores: exact zeros, -0.0, a few repeated values, -inf in the future."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.randint(-2, 3, (B, S, T), generator=g).float().relu()  # many exact zeros
    scores = scores * torch.where(torch.rand(B, S, 1, generator=g) < 0.3, -1.0, 1.0)  # -0.0 rows
    return scores.masked_fill(~causal_mask(S, T), -INF)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k", [1, 3, 16, 299, 300, 301, 500])
def test_select_topk_fast_with_many_ties_equals_the_reference(seed, k):
    scores = _tie_heavy_scores(seed)
    assert torch.equal(select_topk_fast(scores, k), select_topk(scores, k))


@pytest.mark.parametrize("seed", range(4))
def test_select_topk_fast_on_random_relu_scores_equals_the_reference(seed):
    g = torch.Generator().manual_seed(seed)
    q, k, w = (torch.randn(*shape, generator=g) for shape in ((1, 64, 4, 8), (1, 2000, 8), (1, 64, 4)))
    w[:, ::3] = -w[:, ::3].abs()  # rows with all weights negative: best score 0, tied many times
    scores = index_scores(q, k, w)
    assert torch.equal(select_topk_fast(scores, 128), select_topk(scores, 128))


@pytest.mark.parametrize("select", [select_topk, select_topk_fast])
def test_boundary_ties_far_beyond_the_first_k_plus_one_are_found(select):
    scores = torch.full((1, 1, 1000), 5.0)
    scores[0, 0, 990:] = 7.0  # 10 clear winners at the end, then 990 tied at 5.0
    assert select(scores, 12)[0, 0].tolist() == list(range(990, 1000)) + [0, 1]


@pytest.mark.parametrize("select", [select_topk, select_topk_fast])
def test_rows_that_see_nothing_or_only_negative_zero(select):
    scores = torch.tensor([[[-INF, -INF, -INF], [-0.0, 0.0, -INF], [-0.0, -0.0, -0.0]]])
    assert select(scores, 2).tolist() == [[[-1, -1], [0, 1], [0, 1]]]


@pytest.mark.parametrize("bad", [float("nan"), INF])
@pytest.mark.parametrize("select", [select_topk, select_topk_fast])
def test_one_bad_score_anywhere_raises(bad, select):
    scores = torch.zeros(2, 3, 50)
    scores[1, 2, 17] = bad
    with pytest.raises(ValueError, match="NaN"):
        select(scores, 4)


@pytest.mark.parametrize("chunk", [1, 5, 64, 256])
@pytest.mark.parametrize("select", [select_topk, select_topk_fast])
def test_chunked_with_ties_equals_the_references(chunk, select):
    q, k, w = toy_indexer_inputs(2, 90, 4, 8, seed=3)
    q, k = q.round(), k.round()  # integer dot products: many equal scores
    want = select_topk(index_scores(q, k, w), 10)
    assert torch.equal(select_keys(q, k, w, top_k(10, select), rows=chunk), want)


@pytest.mark.parametrize("elements", [1, 1000, 2**24])
@pytest.mark.parametrize("S", [30, 11])
def test_sparse_attention_chunked_equals_the_reference(elements, S):
    torch.manual_seed(0)
    q, k, v = torch.randn(2, S, 6, 8), torch.randn(2, 30, 2, 8), torch.randn(2, 30, 2, 5)
    idx = select_topk(torch.rand(2, S, 30).masked_fill(~causal_mask(S, 30), -INF), 7)
    idx[0, 0, 0] = 29  # a careless pick in the query's future: both must ignore it
    want = sparse_attention(q, k, v, idx)
    got = sparse_attention_chunked(q, k, v, idx, chunk_elements=elements)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)


def test_fast_dsa_select_picks_what_the_reference_picks_in_a_model():
    """dsa_select(k, fast=True) (the twins) against dsa_select(k, fast=False) (the reference functions):
    the same picks in every layer of a random 2-layer host model with random indexers, over 300 tokens,
    and the same hidden states with the chunked sparse attention."""
    from dataclasses import replace

    from dsa_core.config import SMOLLM2_HOST
    from dsa_core.host.model import ModelConfig, Transformer, attach_indexers
    from dsa_core.host.selects import dsa_select
    from dsa_core.train.stage1 import make_indexers

    torch.manual_seed(0)
    model = Transformer(ModelConfig(n_layers=2, max_seq_len=512)).eval()
    cfg = replace(SMOLLM2_HOST, dim=model.cfg.dim, index_topk=16)
    attach_indexers(model, list(make_indexers(cfg, range(2), seed=3).values()))
    ids = torch.randint(0, model.cfg.vocab_size, (1, 300))
    with torch.no_grad():
        h_fast, fast = model.hidden(ids, select=dsa_select(16), keep={0, 1})
        for block in model.layers:
            block.self_attn.fast = False
        h_ref, ref = model.hidden(ids, select=dsa_select(16, fast=False), keep={0, 1})
    for layer in (0, 1):
        assert torch.equal(ref[layer][4], fast[layer][4]), layer  # topk_indices [1,T,16]
    torch.testing.assert_close(h_fast, h_ref, rtol=1e-4, atol=1e-4)
