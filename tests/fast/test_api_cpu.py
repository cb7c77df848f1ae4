"""CPU side of dsa_core.fast: it imports without Triton, validates, plans, and falls back to the reference."""

import subprocess
import sys

import pytest
import torch

import dsa_core.fast as fast
from dsa_core.fast import api
from dsa_core.pipeline import index_topk
from dsa_core.sparse import sparse_attention


def test_import_does_not_load_triton():
    code = "import sys, dsa_core.fast; assert 'triton' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def _indexer_inputs(B=2, S=40, T=40, h=4, d=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(B, S, h, d, generator=g),
        torch.randn(B, T, d, generator=g),
        torch.randn(B, S, h, generator=g),
    )


@pytest.mark.parametrize("S,T,topk", [(40, 40, 8), (1, 40, 8), (10, 40, 64)])
def test_index_topk_matches_reference_on_cpu(S, T, topk):
    q, k, w = _indexer_inputs(S=S, T=T)
    torch.testing.assert_close(fast.index_topk(q, k, w, topk), index_topk(q, k, w, topk))


def test_sparse_attention_and_dsa_match_reference_on_cpu():
    g = torch.Generator().manual_seed(1)
    q, k, v = (
        torch.randn(1, 30, 6, 8, generator=g),
        torch.randn(1, 30, 3, 8, generator=g),
        torch.randn(1, 30, 3, 4, generator=g),
    )
    qi, ki, w = _indexer_inputs(B=1, S=30, T=30)
    idx = index_topk(qi, ki, w, 5)
    torch.testing.assert_close(fast.sparse_attention(q, k, v, idx), sparse_attention(q, k, v, idx))
    torch.testing.assert_close(
        fast.sparse_attention(q, k, v, idx.int(), trunc=True), sparse_attention(q, k, v, idx)
    )
    torch.testing.assert_close(api.dsa_layer_fused(q, k, v, qi, ki, w, 5), sparse_attention(q, k, v, idx))


def test_bad_arguments_raise_value_error():
    q, k, w = _indexer_inputs()
    with pytest.raises(ValueError):
        fast.index_topk(q, k, w, -1)
    with pytest.raises(ValueError):
        fast.sparse_attention(
            torch.zeros(1, 4, 5, 8),
            torch.zeros(1, 4, 2, 8),
            torch.zeros(1, 4, 2, 8),
            torch.zeros(1, 4, 2, dtype=torch.long),
        )


def test_plans_pick_kernel_settings_or_decline():
    bf = torch.bfloat16
    q, kv = torch.zeros(1, 8, 128, 576, dtype=bf), torch.zeros(1, 8, 1, 576, dtype=bf)
    p = api.attention_plan(q, kv, kv[..., :512])
    assert p["split"] == (512, 64) and p["bh"] == 64 and p["v_is_k"] and p["bn"] == 64
    assert p["splits"] is None  # chosen per call by plan.attention_splits
    assert not api.attention_plan(q, kv, torch.zeros(1, 8, 1, 512, dtype=bf))["v_is_k"]
    host = api.attention_plan(
        torch.zeros(1, 8, 9, 64, dtype=bf),
        torch.zeros(1, 8, 3, 64, dtype=bf),
        torch.zeros(1, 8, 3, 64, dtype=bf),
    )
    assert host["bh"] == 16 and host["split"] == (64, 0) and not host["v_is_k"]
    assert api.attention_plan(q.float(), kv.float(), kv[..., :512].float()) is None  # fp32: reference
    qi, ki, w = torch.zeros(1, 8, 64, 128, dtype=bf), torch.zeros(1, 8, 128, dtype=bf), torch.zeros(1, 8, 64)
    assert api.indexer_plan(qi, ki, w, 4)["bq"] == 4
    assert api.indexer_plan(qi[:, :1], ki, w[:, :1], 4)["bq"] == 1  # decode: one query a block
    assert api.indexer_plan(qi[:, :, :6], ki, w[..., :6], 4) is None  # 6 heads: reference


def test_fp8_fallback_selects_on_the_fp8_rounded_inputs():
    from dsa_core.fp8 import fp8_quant_dequant

    q, k, w = _indexer_inputs(S=40, T=40)
    torch.testing.assert_close(
        fast.index_topk(q, k, w, 8, fp8=True),
        index_topk(fp8_quant_dequant(q), fp8_quant_dequant(k), w, 8),
    )
