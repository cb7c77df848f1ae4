"""CPU checks of dsa_core.fast.plan: argument checks, tile choices, chunking and FLOP counts."""

import pytest
import torch

from dsa_core.cost import flops
from dsa_core.fast import plan


def _brute_selected(S, T, K):
    return sum(min(p + 1, K) for p in range(T - S, T))


@pytest.mark.parametrize(
    "S,T,K",
    [
        (10, 10, 3),
        (5, 10, 20),
        (1, 100, 7),
        (100, 100, 100),
        (7, 7, 1),
        (50, 64, 16),
        (1, 1, 5),
        (300, 4096, 2048),
    ],
)
def test_pair_counts_match_brute_force(S, T, K):
    assert flops.selected_pairs(S, T, K) == _brute_selected(S, T, K)
    assert flops.visible_pairs(S, T) == sum(p + 1 for p in range(T - S, T))


def test_flop_counts_match_flashmla():
    # docs/sources.md §1: one query with k = 2048 at 128 heads, 576 + 512 -> 570.4 MFLOP
    assert plan.sparse_flops(1, 4096, 128, 576, 512, 2048) == 2 * 2048 * 128 * 1088
    # §6.1: indexer over a 128K prefill ≈ 140.7 TFLOP, sparse part ≈ 74.8, dense MHA ≈ 704
    T = 131072
    assert plan.indexer_flops(T, T, 64, 128) / 1e12 == pytest.approx(140.7, rel=2e-3)
    # (anchors count k·L pairs = 74.8; the exact causal count drops the k²/2 short rows: 74.2)
    assert plan.sparse_flops(T, T, 128, 576, 512, 2048) / 1e12 == pytest.approx(74.8, rel=1e-2)
    assert plan.dense_flops(T, T, 128, 192, 128) / 1e12 == pytest.approx(704, rel=2e-3)


def test_split_dim_gives_power_of_two_parts():
    assert plan.split_dim(576) == (512, 64)
    assert plan.split_dim(192) == (128, 64)
    assert plan.split_dim(64) == (64, 0)
    assert plan.split_dim(80) == (64, 16)
    assert plan.split_dim(100) is None and plan.split_dim(8) is None


def test_tile_choices():
    assert plan.indexer_blocks(64, 128) == 4 and plan.indexer_blocks(4, 32) == 32
    assert plan.indexer_blocks(6, 32) is None and plan.indexer_blocks(4, 24) is None
    assert plan.head_block(128) == 64 and plan.head_block(3) == 16 and plan.head_block(32) == 32


@pytest.mark.parametrize("S,T,B", [(131072, 131072, 1), (1000, 1000, 3), (1, 131072, 32), (70000, 90000, 2)])
def test_query_chunks_cover_the_queries_within_budget(S, T, B):
    chunks = plan.query_chunks(S, T, B)
    assert chunks[0][0] == 0 and chunks[-1][1] == S
    assert all(a1 == b0 for (_, a1), (b0, _) in zip(chunks, chunks[1:]))
    rows = max(s1 - s0 for s0, s1 in chunks)
    assert rows == S or 4 * B * rows * T <= plan.SCORE_BUDGET_BYTES or rows == 64


def test_argument_checks_raise_value_error():
    q, k, w = torch.zeros(1, 4, 2, 8), torch.zeros(1, 4, 8), torch.zeros(1, 4, 2)
    plan.check_indexer_args(q, k, w, 3)
    with pytest.raises(ValueError, match="shape mismatch"):
        plan.check_indexer_args(q, torch.zeros(1, 4, 7), w)
    with pytest.raises(ValueError, match="topk"):
        plan.check_indexer_args(q, k, w, 0)
    with pytest.raises(ValueError, match="more queries"):
        plan.check_indexer_args(q, k[:, :2], w)
    qa, ka, va = torch.zeros(1, 4, 6, 8), torch.zeros(1, 4, 3, 8), torch.zeros(1, 4, 3, 5)
    idx = torch.zeros(1, 4, 2, dtype=torch.long)
    plan.check_attention_args(qa, ka, va, idx)
    with pytest.raises(ValueError, match="divisible"):
        plan.check_attention_args(qa, torch.zeros(1, 4, 4, 8), torch.zeros(1, 4, 4, 5), idx)
    with pytest.raises(ValueError, match="idx"):
        plan.check_attention_args(qa, ka, va, idx.float())


@pytest.mark.parametrize(
    "S,T,B,K,fused",
    [
        (131072, 131072, 1, 128, True),  # host prefill: fused, sampled pass A
        (131072, 131072, 1, 2048, False),  # 671B prefill: stored scores, chunks within the budget
        (16384, 16384, 1, 128, True),
        (1, 131072, 32, 2048, False),  # 671B decode step
        (70000, 90000, 2, 64, True),  # S ≥ 65,536, queries that end a longer text
        (3, 5, 1, 8, False),  # T < K
    ],
)
def test_selection_chunks_cover_the_queries_and_bound_each_row(S, T, B, K, fused):
    chunks = plan.selection_chunks(S, T, B, K, 64, fused)
    assert chunks[0][0] == 0 and chunks[-1][1] == S
    assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:]))
    V = plan.threshold_values(K)
    for s0, s1, r, g in chunks:
        assert 64 % g == 0 and (r == 1 or fused)
        n_first, n_last = T - S + s0 + 1, T - S + s1  # visible keys of the first and the last row
        cols = plan.sample_cols(n_last - 1, 64, r, g) if fused else -(-n_last // g)
        assert cols <= V  # the threshold kernel holds a row's values in registers
        assert r * g == 1 or n_first // (r * g) >= 2 * K or g == 64  # enough values for a tight bound
        per_row = B * (4 * V + 8 * plan.candidate_cap(K) + (0 if fused else 4 * T))
        assert (s1 - s0) * per_row <= plan.SCORE_BUDGET_BYTES or s1 - s0 == 1


def test_selection_choices():
    assert plan.selection_path(1) == "threshold" and plan.selection_path(131072) == "histogram"
    assert plan.fuse_rescore(131072, 4, 64) and not plan.fuse_rescore(131072, 64, 128)
    assert not plan.fuse_rescore(1, 4, 64)  # decode: each key tile serves one query, store instead
    assert not plan.fuse_rescore(131072, 4, 64, fp8=True)
    assert plan.candidate_cap(2048) == 8192 and plan.candidate_cap(128) == 4096
    assert plan.selection_chunks(100, 100, 1, 8192, 64, True) is None  # K too large for the registers
    assert plan.attention_splits(1, 32, 1, 2, 2048, 64) == 4  # decode: 64 programs -> 4 splits each
    assert plan.attention_splits(4096, 1, 1, 2, 2048, 64) == 1  # prefill fills the GPU
    assert plan.attention_splits(1, 1, 1, 1, 128, 64) == 2  # never more splits than slot tiles
