"""Checkers for notebook 01, attention and why it is quadratic."""

import torch
import torch.nn.functional as F

from course.feedback import as_number, check_function, close, correct, not_answered, wrong
from dsa_core.config import V32_671B
from dsa_core.dense import attention_logits, attention_probs, dense_attention


def check_causal_pairs(answer, T=1000):
    """Exercise 1: how many (query, key) scores one causal head computes for T tokens."""
    name = "Exercise 1 (causal pairs)"
    if answer is None:
        return not_answered(name)
    n = as_number(answer)
    if n is None:
        return wrong(name, f"expected one number, got {type(answer).__name__}.")
    right = T * (T + 1) // 2
    if n == right:
        return correct(name, f"{right:,} pairs: T(T+1)/2, about half of T² = {T * T:,}. Still quadratic.")
    if n == T * T:
        return wrong(name, f"{T * T:,} is T²: you counted the future too. Query t only sees keys s ≤ t.")
    if n == T * (T - 1) // 2:
        return wrong(
            name,
            f"{n:,.0f} is T(T−1)/2: you left out the diagonal. Every token also attends to itself (s = t).",
        )
    if n == T:
        return wrong(name, f"{T} is one score per query; each query scores every earlier key.")
    return wrong(
        name,
        f"{n:,.0f} is not it. Count, for each query t = 0 … {T - 1}, the keys "
        "s = 0 … t it can see, and add up.",
    )


OVERFLOW = (
    "exp of a logit above about 88 is inf in float32 (and of one below about −103 is 0), so exp / sum "
    "gives inf / inf = NaN: subtract each row's maximum before exp, as softmax does."
)


def _one_head_cases():
    """Fresh (q, k) pairs for one head, q and k [T, D]: several sizes, one token, and large logits
    (the last case's visible logits reach about ±270, so an exp / sum without the row max overflows)."""
    g = torch.Generator().manual_seed(11)
    cases = []
    for T, D, spread, label in (
        (7, 16, 1.0, "T = 7, D = 16"),
        (1, 8, 1.0, "T = 1 (a single token)"),
        (12, 64, 1.0, "T = 12, D = 64"),
        (5, 4, 12.0, "T = 5, D = 4 with large scores (logits above 100)"),
    ):
        q = spread * torch.randn(T, D, generator=g)
        k = spread * torch.randn(T, D, generator=g)
        cases.append((q, k, label))
    return cases


def _mistakes(q, k):
    """The common mistakes, each as the [T, T] map it produces."""
    T, D = q.shape
    logits = q @ k.T * D**-0.5
    future = torch.ones(T, T, dtype=torch.bool).triu(1)
    with_diagonal = torch.ones(T, T, dtype=torch.bool).triu(0)
    masked = logits.masked_fill(future, float("-inf"))
    naive = masked.exp()  # [T, T]: inf where a logit is above about 88
    return {
        "query t attends to keys s > t (the future): mask them with −inf before the softmax.": (
            logits.softmax(-1)
        ),
        "the future is set to 0 before the softmax, so it still gets weight e⁰: use −inf.": (
            logits.masked_fill(future, 0.0).softmax(-1)
        ),
        "the diagonal is masked too (s ≥ t instead of s > t): every token also attends to ITSELF.": (
            logits.masked_fill(with_diagonal, float("-inf")).softmax(-1)
        ),
        f"the scale is missing: multiply q·k by D**-0.5 = {D**-0.5:.4f} before the softmax.": (
            (q @ k.T).masked_fill(future, float("-inf")).softmax(-1)
        ),
        "the softmax runs over the queries (dim 0); each query's row must sum to 1 (dim -1).": (
            masked.softmax(0)
        ),
        "the future is zeroed AFTER the softmax, so the rows no longer sum to 1: mask with −inf before "
        "the softmax (or divide each row by its new sum).": logits.softmax(-1).masked_fill(future, 0.0),
        OVERFLOW: naive / naive.sum(-1, keepdim=True),
    }


def check_attention_function(fn):
    """Exercise 2: the student's one-head causal attention probabilities, q [T, D], k [T, D] -> [T, T]."""
    cases = []
    for q, k, label in _one_head_cases():
        right = attention_probs(q[None, :, None], k[None, :, None])[0, 0]  # [T, T]
        case = {"args": (q, k), "right": right, "label": label, "mistakes": _mistakes(q, k)}
        if "large" in label:  # a NaN there is the overflow of an exp without the row max
            case["nan"] = OVERFLOW
        cases.append(case)
    return check_function(
        "Exercise 2 (one head of causal attention)",
        fn,
        cases,
        forbidden={
            "dsa.attention_probs": attention_probs,
            "dsa.dense_attention": dense_attention,
            "dsa.dense.attention_logits": attention_logits,
            "F.scaled_dot_product_attention": F.scaled_dot_product_attention,
        },
        signature="my_attention_probs(q, k)",
        done="matches dsa.attention_probs on the checker's own inputs (4 sizes, a single token, large "
        "scores): scale, causal mask with −inf, softmax over the keys.",
    )


def check_probs_memory_gib(answer, T=131072, cfg=V32_671B):
    """Exercise 3: GiB of one layer's fp32 attention probabilities [1, H, T, T] for the 671B model."""
    name = "Exercise 3 (memory of the T×T map)"
    if answer is None:
        return not_answered(name)
    gib = as_number(answer)
    if gib is None:
        return wrong(name, f"expected one number (GiB), got {type(answer).__name__}.")
    H = cfg.n_heads
    right = 4 * H * T * T / 2**30
    if close(gib, right):
        return correct(
            name,
            f"{right:,.0f} GiB for ONE layer ({cfg.n_layers} layers in the model): "
            "nobody materialises this; that is why kernels stream (FlashAttention) "
            "and why DSA cuts the pairs.",
        )
    if close(gib, right / H):
        return wrong(name, f"{gib:,.0f} GiB is one head; the model has H = {H} query heads per layer.")
    if close(gib, right / 4):
        return wrong(name, f"{gib:,.0f} is elements / 2**30; each fp32 element takes 4 bytes.")
    if close(gib, right / 2):
        return wrong(
            name,
            f"{gib:,.0f} GiB is half: either 2 bytes per element (bf16; the question says "
            "fp32) or only the causal half (the tensor is stored as a full T×T square).",
        )
    if close(gib, right * 2**30 / 1e9):
        return wrong(name, f"{gib:,.0f} is in GB (10⁹ bytes); the question asks GiB (2³⁰ bytes).")
    return wrong(name, f"{gib:,.1f} GiB is not it: bytes = 4 · H · T · T, then divide by 2**30.")
