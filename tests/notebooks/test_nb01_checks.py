"""Notebook 01 checkers: each rejects a known-wrong answer with a message that says what is wrong."""

import torch

from course.checks import nb01
from dsa_core import attention_probs


def test_causal_pairs():
    assert nb01.check_causal_pairs(500500)
    assert nb01.check_causal_pairs(None).status == "unanswered"
    assert "future" in nb01.check_causal_pairs(1_000_000).message
    assert "diagonal" in nb01.check_causal_pairs(499500).message
    assert not nb01.check_causal_pairs("lots")


def _qk(T=12):
    torch.manual_seed(0)
    return torch.randn(1, T, 4, 64), torch.randn(1, T, 1, 64)


def test_attention_row():
    q, k = _qk()
    right = attention_probs(q, k)[0, 0, 5]
    assert nb01.check_attention_row(right, q, k, t=5)
    assert nb01.check_attention_row(right.tolist(), q, k, t=5)
    assert nb01.check_attention_row(None, q, k, t=5).status == "unanswered"
    unmasked = (q[0, 5, 0] @ k[0, :, 0].T * 64**-0.5).softmax(-1)
    fb = nb01.check_attention_row(unmasked, q, k, t=5)
    assert not fb and "position 6, which is in the future" in fb.message
    unscaled = torch.zeros(12)
    unscaled[:6] = (q[0, 5, 0] @ k[0, :6, 0].T).softmax(-1)
    assert "scale" in nb01.check_attention_row(unscaled, q, k, t=5).message
    assert "sums to" in nb01.check_attention_row(right * 2, q, k, t=5).message
    assert "length T = 12" in nb01.check_attention_row(right[:6], q, k, t=5).message


def test_probs_memory():
    right = 4 * 128 * 131072**2 / 2**30
    assert nb01.check_probs_memory_gib(right)
    assert "heads" in nb01.check_probs_memory_gib(right / 128).message
    assert "4 bytes" in nb01.check_probs_memory_gib(right / 4).message
    assert "GB" in nb01.check_probs_memory_gib(right * 2**30 / 1e9).message
    assert not nb01.check_probs_memory_gib(12.0)
