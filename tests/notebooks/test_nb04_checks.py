"""Notebook 04 checkers: the stub, each named mistake, the shortcuts (all fail) and the solutions (pass)."""

import math

import torch

import dsa_core as dsa
from course.checks import nb04


def solution(q, k, v, idx):
    B, T, H, D = q.shape
    g = H // k.shape[2]
    out = torch.zeros(B, T, H, v.shape[-1])
    for b in range(B):
        for t in range(T):
            sel = idx[b, t][idx[b, t] >= 0]  # drop the empty slots
            for h in range(H):
                p = (k[b, sel, h // g] @ q[b, t, h] * D**-0.5).softmax(-1)
                out[b, t, h] = p @ v[b, sel, h // g]
    return out


def test_sparse_function():
    assert nb04.check_sparse_function(solution)
    assert nb04.check_sparse_function(None).status == "unanswered"
    named = {
        "renormalise": lambda q, k, v, i: nb04._gathered(q, k, v, i, renorm=False),
        "clamped to 0": lambda q, k, v, i: nb04._gathered(q, k, v, i, slot="clamp"),
        "LAST token": lambda q, k, v, i: nb04._gathered(q, k, v, i, slot="wrap"),
        "scale is missing": lambda q, k, v, i: nb04._gathered(q, k, v, i, scale=False),
        "h // (H / H_kv)": lambda q, k, v, i: nb04._gathered(q, k, v, i, head="mod"),
        "reads kv head 0": lambda q, k, v, i: nb04._gathered(q, k, v, i, head="first"),
        "logit 0 (weight e⁰ = 1, reading token 0)": lambda q, k, v, i: nb04._gathered(
            q, k, v, i, slot="zero"
        ),
        "logit 0 (weight e⁰ = 1, reading k[-1]": lambda q, k, v, i: nb04._gathered(
            q, k, v, i, slot="zero_wrap"
        ),
        "logit 0 and value 0": lambda q, k, v, i: nb04._gathered(q, k, v, i, slot="zero_value"),
    }
    for words, fn in named.items():
        fb = nb04.check_sparse_function(fn)
        assert not fb and words in fb.message, (words, fb)
    for shortcut, words in (
        (dsa.sparse_attention, "dsa.sparse_attention"),
        (lambda q, k, v, i: dsa.masked_sparse_attention(q, k, v, i), "dsa.masked_sparse_attention"),
        (lambda q, k, v, i: dsa.dense_attention(q, k, v), "dsa.dense_attention"),
    ):
        fb = nb04.check_sparse_function(shortcut)
        assert not fb and words in fb.message, (words, fb)
    copied = torch.zeros(1, 12, 4, 64)  # the notebook's `out`, copied instead of a function
    assert "expected a function" in nb04.check_sparse_function(copied).message
    assert "shape" in nb04.check_sparse_function(lambda q, k, v, i: copied).message


def masked_rung(q, k, v, idx):
    """Right values the masked way (rung 1): dense [T, T] scores, -inf outside the selection."""
    B, T, H, D = q.shape
    heads = torch.arange(H) // (H // k.shape[2])
    logits = torch.einsum("bthd,bshd->bhts", q, k[:, :, heads]) * D**-0.5  # [B, H, T, T]
    keep = torch.zeros(B, T, T + 1, dtype=torch.bool).scatter_(-1, idx.masked_fill(idx < 0, T), True)
    probs = logits.masked_fill(~keep[:, None, :, :T], float("-inf")).softmax(-1)
    return torch.einsum("bhts,bshd->bthd", probs, v[:, :, heads])


def gathered_vectorised(q, k, v, idx):
    """Right values the gathered way, without loops: index k and v with idx."""
    B, T, H, D = q.shape
    heads = torch.arange(H) // (H // k.shape[2])
    b = torch.arange(B)[:, None, None]  # [B, 1, 1]
    k_sel, v_sel = k[b, idx.clamp(min=0)][..., heads, :], v[b, idx.clamp(min=0)][..., heads, :]  # [B,T,K,H,D]
    logits = torch.einsum("bthd,btkhd->bthk", q, k_sel) * D**-0.5
    probs = logits.masked_fill((idx < 0)[:, :, None], float("-inf")).softmax(-1)  # [B, T, H, K]
    return torch.einsum("bthk,btkhd->bthd", probs, v_sel)


def test_sparse_function_must_gather():
    assert nb04.check_sparse_function(gathered_vectorised)
    fb = nb04.check_sparse_function(masked_rung)
    assert not fb and "right values" in fb.message and "gathered rung" in fb.message, fb


def test_empty_slot_by_hand():
    e = [math.exp(x) for x in nb04.HAND_LOGITS]
    right = (e[2] * 30 + e[0] * 10) / (e[2] + e[0])
    assert nb04.check_empty_slot(right)
    assert nb04.check_empty_slot(round(right, 2))
    assert nb04.check_empty_slot(None).status == "unanswered"
    named = {
        "LAST token": (e[2] * 30 + e[0] * 10 + 2 * e[3] * 40) / (e[2] + e[0] + 2 * e[3]),
        "clamped to 0": (e[2] * 30 + 3 * e[0] * 10) / (e[2] + 3 * e[0]),
        "scored 0": (e[2] * 30 + e[0] * 10 + 2 * 40) / (e[2] + e[0] + 2),
        "without renormalising": (e[0] * 10 + e[2] * 30) / (e[0] + e[1] + e[2]),
        "key 1 is not selected": (e[0] * 10 + e[1] * 20 + e[2] * 30) / (e[0] + e[1] + e[2]),
        "future key 3": sum(w * x for w, x in zip(e, nb04.HAND_VALUES)) / sum(e),
    }
    for words, value in named.items():
        fb = nb04.check_empty_slot(value)
        assert not fb and words in fb.message, (words, fb)
    assert not nb04.check_empty_slot("24.62")


def test_index_sets():
    assert nb04.check_index_sets(30)
    assert nb04.check_index_sets(None).status == "unanswered"
    assert "query head" in nb04.check_index_sets(270).message
    assert "kv head" in nb04.check_index_sets(90).message
    assert "indexer head" in nb04.check_index_sets(120).message
    assert "own indexer" in nb04.check_index_sets(1).message  # the 671B per-layer answer stated in the prose
    assert not nb04.check_index_sets(61)
    assert not nb04.check_index_sets(True)


def test_rung_memory():
    T, H, K = 65536, 16, 256
    right = (4 * H * T * T / 2**20, 4 * T * H * K / 2**20)
    assert nb04.check_rung_memory(right)
    assert nb04.check_rung_memory(None).status == "unanswered"
    assert "swapped" in nb04.check_rung_memory(right[::-1]).message
    assert "MB" in nb04.check_rung_memory((right[0] * 2**20 / 1e6, right[1])).message
    assert "heads" in nb04.check_rung_memory((right[0] / H, right[1])).message
    assert not nb04.check_rung_memory((16384, 32))  # the T = 32768, H = 4 numbers printed in the notebook
    assert not nb04.check_rung_memory((right[0] / 2, right[1]))  # the causal half
    assert "pair" in nb04.check_rung_memory(5).message
