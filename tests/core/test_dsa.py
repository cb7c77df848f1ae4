"""The composed layer: k ≥ T is dense, the future never matters, prefill equals token-by-token decode."""

import dataclasses

import torch

from dsa_core import (
    TEACHING,
    LightningIndexer,
    dense_attention,
    dsa_attention,
    dsa_decode,
    masked_sparse_attention,
)
from dsa_core.toy import toy_layer


def _layer(cfg=TEACHING, T=24, seed=0):
    torch.manual_seed(seed)
    return LightningIndexer(cfg).requires_grad_(False), toy_layer(cfg, B=2, T=T, seed=seed)


def test_dsa_with_k_at_least_t_is_dense_attention():
    indexer, (x, qr, q, k, v) = _layer()
    out, trace = dsa_attention(x, q, k, v, indexer, topk=24, qr=qr)
    torch.testing.assert_close(out, dense_attention(q, k, v), rtol=1e-5, atol=1e-5)
    assert trace.index_scores.shape == (2, 24, 24) and trace.probs.shape == (2, 24, 4, 24)


def test_dsa_output_equals_the_masked_demo_form():
    indexer, (x, qr, q, k, v) = _layer(seed=1)
    out, trace = dsa_attention(x, q, k, v, indexer, topk=5, qr=qr)
    torch.testing.assert_close(
        out, masked_sparse_attention(q, k, v, trace.topk_indices), rtol=1e-5, atol=1e-5
    )


def test_perturbing_future_tokens_leaves_earlier_outputs_unchanged():
    indexer, (x, qr, q, k, v) = _layer(seed=2)
    out, trace = dsa_attention(x, q, k, v, indexer, topk=6, qr=qr)
    t = 10
    noisy = [a.clone() for a in (x, qr, q, k, v)]
    for a in noisy:
        a[:, t + 1 :] += torch.randn_like(a[:, t + 1 :]) * 5
    out2, trace2 = dsa_attention(*noisy[:1], *noisy[2:], indexer, topk=6, qr=noisy[1])
    torch.testing.assert_close(out2[:, : t + 1], out[:, : t + 1])
    assert torch.equal(trace2.topk_indices[:, : t + 1], trace.topk_indices[:, : t + 1])
    assert (trace.topk_indices <= torch.arange(24)[None, :, None]).all()


def test_prefill_equals_token_by_token_decode():
    indexer, (x, qr, q, k, v) = _layer(T=14, seed=3)
    out, trace = dsa_attention(x, q, k, v, indexer, topk=7, qr=qr)
    out_d, trace_d = dsa_decode(x, q, k, v, indexer, topk=7, qr=qr)
    assert torch.equal(trace_d.topk_indices, trace.topk_indices)
    torch.testing.assert_close(trace_d.index_scores, trace.index_scores, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out_d, out, rtol=1e-5, atol=1e-5)


def test_topk_defaults_to_the_config_value():
    cfg = dataclasses.replace(TEACHING, index_topk=3)
    indexer, (x, qr, q, k, v) = _layer(cfg, T=8)
    assert dsa_attention(x, q, k, v, indexer, qr=qr)[1].topk_indices.shape == (2, 8, 3)
