"""dsa_core.cost.flops against the published 671B figures (docs/sources.md §1-3, docs/cost.md)."""

import math
from dataclasses import replace

import pytest

from dsa_core.cost import flops as cost
from dsa_core.cost.flops import (
    asymptotic_ratio,
    cache_bytes_per_token,
    crossover_decode_bytes,
    crossover_numeric,
    crossover_sequence,
    crossover_token,
    dense_cost,
    dsa_cost,
)
from dsa_core.cost.shapes import T1, V32_MHA, V32_MQA

K = 1024


def test_per_pair_macs_match_the_671b_config():
    pf = cost.pair_flops(V32_MQA)
    assert pf["indexer/qk_flops_per_pair"] // 2 == 8_192  # 64 x 128, FP8
    assert pf["attention/core_flops_per_pair"] // 2 == 139_264  # 128 x (576 + 512)
    assert cost.pair_flops(V32_MHA)["attention/core_flops_per_pair"] // 2 == 40_960
    assert pf["attention/core_flops_per_pair"] // pf["indexer/qk_flops_per_pair"] == 17


def test_published_cache_sizes():
    assert cache_bytes_per_token(V32_MQA, "fp8") == {
        "kv_cache/bytes_per_token": 656,
        "index_cache/bytes_per_token": 132,
    }
    assert cache_bytes_per_token(V32_MQA, "bf16")["kv_cache/bytes_per_token"] == 1152
    # FlashMLA README: a 128K bf16 MLA cache over 62 layers (61 + MTP) is about 8.72 GiB per request
    gib = cache_bytes_per_token(V32_MQA, "bf16")["kv_cache/bytes_per_token"] * 62 * 128 * K / 2**30
    assert gib == pytest.approx(8.72, abs=0.01)
    assert cost.cache_bytes(V32_MQA, 128 * K, "bf16")["kv_cache/bytes"] == 1152 * 61 * 128 * K
    with pytest.raises(ValueError, match="fmt"):
        cache_bytes_per_token(V32_MQA, "fp4")


@pytest.mark.parametrize(
    "dense, w, t_star, l_star, ratio",
    [
        (V32_MQA, 1.0, 2_176, 2_704, 17),
        (V32_MQA, 0.5, 2_110, 2_472, 34),
        (V32_MHA, 1.0, 8_704, 16_315, 5),
        (V32_MHA, 0.5, 7_737, 14_371, 10),
    ],
)
def test_crossovers_table_6_1(dense, w, t_star, l_star, ratio):
    assert round(crossover_token(dense, V32_MQA, w)) == t_star
    assert round(crossover_sequence(dense, V32_MQA, w)) == l_star
    assert asymptotic_ratio(dense, V32_MQA, w) == ratio
    # the closed forms agree with bisection on the exact integer sums to within a token
    assert abs(crossover_numeric(dense, V32_MQA, "decode", w) - t_star) <= 1
    assert abs(crossover_numeric(dense, V32_MQA, "prefill", w) - l_star) <= 1


@pytest.mark.parametrize(
    "t, mqa, mha, idx, dsa",
    [
        (4, 1.141, 0.336, 0.067, 0.638),
        (8, 2.282, 0.671, 0.134, 0.705),
        (32, 9.127, 2.684, 0.537, 1.107),
        (64, 18.25, 5.369, 1.074, 1.644),
        (128, 36.51, 10.74, 2.147, 2.718),
    ],
)
def test_per_token_gflop_table(t, mqa, mha, idx, dsa):
    g = lambda x: x / 1e9  # noqa: E731
    s = dsa_cost(V32_MQA, t * K, "decode")
    assert g(dense_cost(V32_MQA, t * K, "decode")["total_flops"]) == pytest.approx(mqa, rel=2e-3)
    assert g(dense_cost(V32_MHA, t * K, "decode")["total_flops"]) == pytest.approx(mha, rel=2e-3)
    assert g(2 * s["indexer/qk_macs"]) == pytest.approx(idx, rel=5e-3)
    assert g(2 * s["attention/core_macs"]) == pytest.approx(0.5704, rel=1e-3)  # FlashMLA's 570.4 MFLOP
    assert g(s["total_flops"]) == pytest.approx(dsa, rel=2e-3)


@pytest.mark.parametrize(
    "L, mqa, mha, dsa", [(32, 149.5, 44.0, 26.9), (64, 598, 176, 72.0), (128, 2393, 704, 214.9)]
)
def test_per_sequence_tflop(L, mqa, mha, dsa):
    tf = lambda c: c["total_flops"] / 1e12  # noqa: E731
    assert tf(dense_cost(V32_MQA, L * K)) == pytest.approx(mqa, rel=2e-3)
    assert tf(dense_cost(V32_MHA, L * K)) == pytest.approx(mha, rel=2e-3)
    assert tf(dsa_cost(V32_MQA, L * K)) == pytest.approx(dsa, rel=2e-3)
    if L == 128:  # "at 128K the indexer is 140.7 of DSA's 214.9 TFLOP"
        assert 2 * dsa_cost(V32_MQA, L * K)["indexer/qk_macs"] / 1e12 == pytest.approx(140.7, rel=1e-3)


def test_decode_bytes():
    d = dense_cost(V32_MQA, 128 * K, "decode", kv_fmt="bf16")["decode/read_bytes"]
    d8 = dense_cost(V32_MQA, 128 * K, "decode", kv_fmt="fp8")["decode/read_bytes"]
    s = dsa_cost(V32_MQA, 128 * K, "decode")["decode/read_bytes"]
    assert (d / 1e6, s / 1e6) == (pytest.approx(151.0, abs=0.05), pytest.approx(18.6, abs=0.05))
    assert (round(d / s, 1), round(d8 / s, 1)) == (8.1, 4.6)
    assert round(crossover_decode_bytes(V32_MQA, "fp8")) == 2_564
    assert (
        crossover_numeric(V32_MQA, V32_MQA, "decode", key="decode/read_bytes", kv_fmt=("fp8", "fp8")) == 2_564
    )
    # vs a bf16 dense cache the closed form (1,317) falls below k: DSA reads fewer bytes at every t
    assert round(crossover_decode_bytes(V32_MQA, "bf16")) == 1_317
    assert crossover_numeric(V32_MQA, V32_MQA, "decode", key="decode/read_bytes") == 1


@pytest.mark.parametrize(
    "h, k, t_star, l_star", [(4, 64, 85, 128), (4, 256, 341, 512), (8, 128, 146, 198), (8, 256, 293, 396)]
)
def test_teaching_table_6_2(h, k, t_star, l_star):
    s = replace(T1, n_heads=h, index_topk=k)
    assert round(crossover_token(s, s)) == t_star
    assert round(crossover_sequence(s, s)) == l_star
    assert asymptotic_ratio(s, s) == h


def test_teaching_per_sequence_ratio_and_curves():
    s = replace(T1, index_topk=64)
    c = cost.curves(s, s, [1 * K, 4 * K, 16 * K, 64 * K])
    assert [round(r, 1) for r in c["ratio"]] == [4.1, 6.4, 7.5, 7.9]
    assert set(c) >= {"L", "dense/total_flops", "dsa/indexer/qk_macs", "dsa/selection/logit_bytes"}


def test_sequence_sums_equal_sum_of_tokens():
    for L in (1, 100, 128, 129, 1000):
        tok = sum(dsa_cost(T1, t, "decode")["total_flops"] for t in range(1, L + 1))
        assert dsa_cost(T1, L, "prefill")["total_flops"] == tok


def test_presets_come_from_config():
    from dsa_core import config

    assert (V32_MQA.qk_head_dim, V32_MQA.v_head_dim, V32_MHA.qk_head_dim, V32_MHA.v_head_dim) == (
        576,
        512,
        192,
        128,
    )
    assert (V32_MQA.index_n_heads, V32_MQA.index_head_dim, V32_MQA.index_topk, V32_MQA.n_layers) == (
        64,
        128,
        2048,
        61,
    )
    s = cost.SMOLLM2
    assert (s.n_heads, s.qk_head_dim, s.n_layers, s.index_n_heads, s.index_head_dim) == (9, 64, 30, 4, 64)
    assert cache_bytes_per_token(s, "bf16") == {
        "kv_cache/bytes_per_token": 768,  # 2·3·64 bf16
        "index_cache/bytes_per_token": 128,
    }  # 64 bf16
    custom = cost.shape_from_config(replace(config.SMOLLM2_HOST, index_topk=512))
    assert custom.index_topk == 512 and math.isfinite(crossover_token(custom, custom))
    with pytest.raises(ValueError, match="MLA"):
        cost.shape_from_config(config.SMOLLM2_HOST, "mqa")


def test_bad_phase():
    with pytest.raises(ValueError, match="phase"):
        dense_cost(V32_MQA, 10, "train")
