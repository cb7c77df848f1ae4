"""The optional FP8 simulation checked against the fp32 path (docs/equations.md, FP8)."""

import pytest
import torch

from dsa_core import index_scores, select_topk, topk_overlap
from dsa_core.fp8 import (
    act_quant,
    fp8_index_scores,
    fp8_index_scores_dequant,
    fp8_quant_dequant,
    hadamard,
    hadamard_matrix,
)
from dsa_core.toy import toy_indexer_inputs


def _finite(x):
    return x.masked_fill(torch.isinf(x), 0.0)


def test_hadamard_matrix_is_orthogonal_and_the_rotation_keeps_index_scores():
    H = hadamard_matrix(128)
    torch.testing.assert_close(H @ H.T, 128 * torch.eye(128))
    q, k, w = toy_indexer_inputs(1, 32, 4, 128)
    torch.testing.assert_close(
        _finite(index_scores(hadamard(q), hadamard(k), w)),
        _finite(index_scores(q, k, w)),
        rtol=1e-4,
        atol=1e-5,
    )


def test_act_quant_uses_power_of_two_scales_and_the_e4m3_range():
    x = torch.randn(3, 256) * 10
    x_fp8, scale = act_quant(x)
    assert scale.shape == (3, 2)
    assert (torch.frexp(scale).mantissa == 0.5).all()
    assert x_fp8.abs().max() <= 448
    torch.testing.assert_close(fp8_quant_dequant(x), x, rtol=0.07, atol=1e-3)
    assert (act_quant(torch.zeros(1, 128))[1] > 0).all()  # amax floor 1e-4: no division by 0


@pytest.mark.parametrize("ue8m0", [True, False])
def test_scale_folded_demo_formula_equals_the_dequantised_formula(ue8m0):
    q, k, w = toy_indexer_inputs(2, 24, 4, 64)
    torch.testing.assert_close(
        _finite(fp8_index_scores(q, k, w, ue8m0)),
        _finite(fp8_index_scores_dequant(q, k, w, ue8m0)),
        rtol=1e-5,
        atol=1e-6,
    )


def test_fp8_top_k_overlaps_the_fp32_top_k_by_at_least_90_percent():
    q, k, w = toy_indexer_inputs(1, 256, 4, 128, seed=7)
    exact = select_topk(index_scores(q, k, w), 32)
    fp8 = select_topk(fp8_index_scores(q, k, w), 32)
    assert topk_overlap(exact, fp8).mean() >= 0.9
