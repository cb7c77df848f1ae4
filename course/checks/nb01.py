"""Checkers for notebook 01, attention and why it is quadratic."""

import torch

from course.feedback import as_number, as_tensor, close, correct, not_answered, wrong
from dsa_core.config import V32_671B
from dsa_core.dense import attention_probs


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


def check_attention_row(answer, q, k, t, head=0):
    """Exercise 2: the attention probabilities of query t, one head, over all T keys."""
    name = "Exercise 2 (one attention row)"
    if answer is None:
        return not_answered(name)
    row = as_tensor(answer)
    T = k.shape[1]
    if row is None or row.dim() != 1 or row.numel() != T:
        shape = None if row is None else tuple(row.shape)
        return wrong(name, f"expected a 1-d tensor of length T = {T} (one weight per key), got {shape}.")
    if not torch.isfinite(row).all():
        return wrong(name, "the row holds inf or NaN: the softmax turns the −inf of masked keys into 0.")
    right = attention_probs(q, k)[0, head, t]  # [T]
    if torch.allclose(row, right, atol=1e-5):
        return correct(name, f"row {t} matches dsa.attention_probs; its {t + 1} weights sum to 1.")
    future = (row[t + 1 :].abs() > 1e-6).nonzero()
    if len(future):
        s = t + 1 + int(future[0])
        return wrong(
            name,
            f"row {t} puts weight {float(row[s]):.3f} on position {s}, which is in the "
            f"future (s > t = {t}). Mask keys s > t with −inf before the softmax.",
        )
    if not close(float(row.sum()), 1.0, 1e-3):
        return wrong(
            name, f"the row sums to {float(row.sum()):.3f}, not 1: apply the softmax over the visible keys."
        )
    D = q.shape[-1]
    g = q.shape[2] // k.shape[2]
    logits = q[0, t, head].float() @ k[0, : t + 1, head // g].float().T  # [t+1]
    if torch.allclose(row[: t + 1], logits.softmax(-1), atol=1e-5):
        return wrong(
            name, f"this is the softmax without the scale: multiply q·k by D**-0.5 = {D**-0.5:.4f} first."
        )
    s = int((row - right).abs().argmax())
    return wrong(
        name,
        f"the row differs from the expected one most at position {s}: "
        f"{float(row[s]):.4f} instead of {float(right[s]):.4f}.",
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
