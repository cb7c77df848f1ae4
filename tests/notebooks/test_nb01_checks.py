"""Notebook 01 checkers: the stub, each named mistake, the shortcuts (all fail) and the solution (passes)."""

import torch
import torch.nn.functional as F

from course.checks import nb01
from dsa_core import attention_probs


def test_causal_pairs():
    assert nb01.check_causal_pairs(500500)
    assert nb01.check_causal_pairs(None).status == "unanswered"
    assert "future" in nb01.check_causal_pairs(1_000_000).message
    assert "diagonal" in nb01.check_causal_pairs(499500).message
    assert "one score per query" in nb01.check_causal_pairs(1000).message
    assert not nb01.check_causal_pairs("500500")  # text is not a number
    assert not nb01.check_causal_pairs("lots")


def solution(q, k):
    T, D = q.shape
    logits = q @ k.T * D**-0.5
    return logits.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf")).softmax(-1)


def _wrong(mask_from=1, scale=True, fill=float("-inf"), dim=-1):
    def f(q, k):
        T, D = q.shape
        logits = q @ k.T * (D**-0.5 if scale else 1.0)
        if mask_from is not None:
            logits = logits.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(mask_from), fill)
        return logits.softmax(dim)

    return f


def test_attention_function():
    assert nb01.check_attention_function(solution)
    assert nb01.check_attention_function(None).status == "unanswered"
    named = {
        "future": _wrong(mask_from=None),
        "use −inf": _wrong(fill=0.0),
        "ITSELF": _wrong(mask_from=0),
        "scale is missing": _wrong(scale=False),
        "over the queries": _wrong(dim=0),
    }
    for words, fn in named.items():
        fb = nb01.check_attention_function(fn)
        assert not fb and words in fb.message, (words, fb)
    # the shortcuts: the library function itself, a wrapper around it, SDPA, a copied printed value
    assert (
        "calls `dsa.attention_probs`"
        in nb01.check_attention_function(
            lambda q, k: attention_probs(q[None, :, None], k[None, :, None])[0, 0]
        ).message
    )
    sdpa = nb01.check_attention_function(
        lambda q, k: F.scaled_dot_product_attention(
            q[None], k[None], torch.eye(q.shape[0])[None], is_causal=True
        )[0]
    )
    assert not sdpa and "scaled_dot_product_attention" in sdpa.message
    copied = torch.rand(12, 12)  # whatever the notebook printed: a fixed tensor, not a function
    assert "expected a function" in nb01.check_attention_function(copied).message
    assert "shape" in nb01.check_attention_function(lambda q, k: copied).message
    assert "raised" in nb01.check_attention_function(lambda q, k: 1 / 0).message


def test_realistic_mistakes_are_named():
    def mask_after_softmax(q, k):  # the future zeroed after the softmax, rows not renormalised
        T, D = q.shape
        return (q @ k.T * D**-0.5).softmax(-1).masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), 0.0)

    def naive_exp(q, k):  # exp / sum without subtracting the row max
        T, D = q.shape
        e = (q @ k.T * D**-0.5).masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf")).exp()
        return e / e.sum(-1, keepdim=True)

    def naive_exp_after(q, k):  # the same, the future zeroed after exp
        T, D = q.shape
        e = (q @ k.T * D**-0.5).exp().masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), 0.0)
        return e / e.sum(-1, keepdim=True)

    fb = nb01.check_attention_function(mask_after_softmax)
    assert not fb and "AFTER the softmax" in fb.message, fb
    for fn in (naive_exp, naive_exp_after):
        fb = nb01.check_attention_function(fn)
        assert not fb and "row's maximum" in fb.message and "large scores" in fb.message, fb


def test_large_scores_case_overflows_a_naive_exp():
    """The large-scores case has visible logits above 100, where exp overflows float32."""
    q, k, label = nb01._one_head_cases()[-1]
    T, D = q.shape
    logits = (q @ k.T * D**-0.5).masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
    assert "large" in label and logits.max() > 100
    assert torch.isinf(logits.exp()).any()


def test_probs_memory():
    right = 4 * 128 * 131072**2 / 2**30
    assert nb01.check_probs_memory_gib(right)
    assert nb01.check_probs_memory_gib(None).status == "unanswered"
    assert "heads" in nb01.check_probs_memory_gib(right / 128).message
    assert "4 bytes" in nb01.check_probs_memory_gib(right / 4).message
    assert "GB" in nb01.check_probs_memory_gib(right * 2**30 / 1e9).message
    assert "half" in nb01.check_probs_memory_gib(right / 2).message
    assert not nb01.check_probs_memory_gib(12.0)
