"""Checkers for notebook 04, sparse attention (gather, the -1 slot, one index set per token, memory)."""

import math

import torch
import torch.nn.functional as F

from course.feedback import (
    as_number,
    check_function,
    close,
    correct,
    not_answered,
    read_number,
    read_pair,
    tensor_shapes,
    wrong,
)
from dsa_core.config import SMOLLM2_HOST
from dsa_core.dense import attention_probs, dense_attention
from dsa_core.sparse import (
    gather_selected,
    masked_sparse_attention,
    sparse_attention,
    sparse_attention_probs,
)
from dsa_core.topk import select_topk


def _gathered(q, k, v, idx, scale=True, slot="skip", head="div", renorm=True):
    """Sparse attention written out with knobs, to reproduce the common mistakes: -> [B, T, H, Dv].

    slot: "skip" (right), "clamp" (-1 -> 0) or "wrap" (-1 -> T - 1, Python's negative index), or a
    -1 slot kept with logit 0 instead of -inf: "zero" (reading token 0), "zero_wrap" (reading the
    last token) or "zero_value" (its value zeroed);
    head: "div" (query head h reads kv head h // (H / H_kv), right), "mod" (h % H_kv) or "first" (kv 0);
    renorm=False: the dense probabilities restricted to S_t, not renormalised."""
    B, T, H, D = q.shape
    Hkv, K = k.shape[2], idx.shape[-1]
    heads = {
        "div": torch.arange(H) // (H // Hkv),
        "mod": torch.arange(H) % Hkv,
        "first": torch.zeros(H, dtype=torch.int64),
    }[head]
    kk, vv = k[:, :, heads].transpose(1, 2), v[:, :, heads].transpose(1, 2)  # [B, H, S, D]
    logits = q.transpose(1, 2) @ kk.transpose(-1, -2) * (D**-0.5 if scale else 1.0)  # [B, H, T, S]
    valid = (idx >= 0)[:, None]  # [B, 1, T, K]
    pos = (idx % T if slot in ("wrap", "zero_wrap") else idx.clamp(min=0))[:, None].expand(B, H, T, K)
    if renorm:
        sel = logits.gather(-1, pos)  # [B, H, T, K]
        if slot == "skip":
            sel = sel.masked_fill(~valid, float("-inf"))
        elif slot.startswith("zero"):
            sel = sel.masked_fill(~valid, 0.0)
        p = sel.softmax(-1)
    else:
        future = torch.ones(T, T, dtype=torch.bool).triu(1)
        p = logits.masked_fill(future, float("-inf")).softmax(-1).gather(-1, pos).masked_fill(~valid, 0.0)
    Dv = v.shape[-1]
    vals = vv[:, :, None].expand(B, H, T, T, Dv).gather(3, pos[..., None].expand(B, H, T, K, Dv))
    if slot == "zero_value":
        vals = vals.masked_fill(~valid[..., None], 0.0)
    return (p[..., None] * vals).sum(3).transpose(1, 2)  # [B, T, H, Dv]


def _sparse_cases():
    g = torch.Generator().manual_seed(41)
    cases = []
    for B, T, H, Hkv, D, Dv, K, label in (
        (1, 6, 2, 1, 4, 4, 3, "T = 6, 2 heads sharing 1 kv head (MQA), K = 3"),
        (2, 7, 4, 2, 8, 6, 4, "B = 2, T = 7, 4 heads over 2 kv heads (GQA), Dv = 6, K = 4"),
        (1, 1, 2, 2, 4, 4, 2, "T = 1: one real slot and one -1"),
        (1, 4, 3, 3, 5, 5, 6, "K = 6 > T = 4: every row has -1 slots"),
    ):
        q = torch.randn(B, T, H, D, generator=g)
        k = torch.randn(B, T, Hkv, D, generator=g)
        v = torch.randn(B, T, Hkv, Dv, generator=g)
        scores = torch.randn(B, T, T, generator=g).masked_fill(
            torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf")
        )
        cases.append((q, k, v, select_topk(scores, K), label))
    return cases


FORBIDDEN = {
    "dsa.sparse_attention": sparse_attention,
    "dsa.masked_sparse_attention": masked_sparse_attention,
    "dsa.sparse_attention_probs": sparse_attention_probs,
    "dsa.sparse.gather_selected": gather_selected,
    "dsa.dense_attention": dense_attention,
    "dsa.attention_probs": attention_probs,
    "F.scaled_dot_product_attention": F.scaled_dot_product_attention,
}


def check_sparse_function(fn):
    """Exercise 1: the student's gathered sparse attention, run on the checker's own inputs."""
    cases = []
    for q, k, v, idx, label in _sparse_cases():
        mistakes = {
            "the probabilities are the DENSE ones restricted to S_t: renormalise the softmax over the "
            "selected keys only (they must sum to 1).": _gathered(q, k, v, idx, renorm=False),
            "the -1 slots were clamped to 0, so token 0 is attended once more for every empty slot: "
            "leave -1 slots out of the softmax.": _gathered(q, k, v, idx, slot="clamp"),
            "a -1 slot reads k[-1], the LAST token (Python's negative index), which is in the future: "
            "leave -1 slots out.": _gathered(q, k, v, idx, slot="wrap"),
            "the scale is missing: multiply q·k by D**-0.5.": _gathered(q, k, v, idx, scale=False),
            "query head h must read kv head h // (H / H_kv) (consecutive heads share a kv head), "
            "not h % H_kv.": _gathered(q, k, v, idx, head="mod"),
            "every query head reads kv head 0: query head h reads kv head h // (H / H_kv).": _gathered(
                q, k, v, idx, head="first"
            ),
            "a -1 slot took part with logit 0 (weight e⁰ = 1, reading token 0): an empty slot gets −inf, "
            "so it drops out of the softmax.": _gathered(q, k, v, idx, slot="zero"),
            "a -1 slot took part with logit 0 (weight e⁰ = 1, reading k[-1] and v[-1], the last token): "
            "an empty slot gets −inf, so it drops out of the softmax.": _gathered(
                q, k, v, idx, slot="zero_wrap"
            ),
            "a -1 slot took part with logit 0 and value 0: its weight e⁰ = 1 still dilutes the real "
            "slots. An empty slot gets −inf, so it drops out of the softmax.": _gathered(
                q, k, v, idx, slot="zero_value"
            ),
            "this is dense causal attention: it ignores the selected indices.": dense_attention(q, k, v),
        }
        cases.append(
            {
                "args": (q, k, v, idx),
                "right": sparse_attention(q, k, v, idx),
                "label": label,
                "mistakes": mistakes,
            }
        )
    name = "Exercise 1 (gathered sparse attention)"
    verdict = check_function(
        name,
        fn,
        cases,
        FORBIDDEN,
        signature="my_sparse_attention(q, k, v, idx)",
        done="matches dsa.sparse_attention on the checker's inputs (MQA, GQA, a batch, T = 1, K > T): "
        "gather the K selected keys, skip -1, softmax over S_t only; no [T, T] tensor on the way.",
    )
    if not verdict:
        return verdict
    big = _dense_shape(fn)
    if big:
        return wrong(
            name,
            f"right values, but your function builds a tensor of shape {big} (T × T for T = {PROBE_T}): "
            "that is the masked rung (dense scores, then a mask), O(T²) memory. This exercise asks for "
            "the gathered rung: index k and v with idx, so each query reads only its K selected keys.",
        )
    return verdict


PROBE_T = 13  # every other size of the probe is smaller, so two dims ≥ T mean a [T, T]-sized map


def _dense_shape(fn):
    """The first tensor with two dimensions of at least T that fn builds on a T = 13 case, or None."""
    g = torch.Generator().manual_seed(44)
    B, T, H, Hkv, D, Dv, K = 1, PROBE_T, 2, 1, 4, 3, 3
    q, k, v = (torch.randn(B, T, n, d, generator=g) for n, d in ((H, D), (Hkv, D), (Hkv, Dv)))
    future = torch.ones(T, T, dtype=torch.bool).triu(1)
    idx = select_topk(torch.randn(B, T, T, generator=g).masked_fill(future, float("-inf")), K)  # [B, T, K]
    try:
        _, shapes = tensor_shapes(fn, (q, k, v, idx))
    except Exception:  # noqa: BLE001 (it passed the real cases; a failure here is not the student's to see)
        return None
    return next((s for s in shapes if sum(d >= T for d in s) >= 2), None)


# Exercise 2's case, written out in the notebook: query t = 2 of one head.
HAND_LOGITS = [1.0, 0.0, 2.0, 3.0]  # q_2·k_s/√D for keys s = 0, 1, 2, 3 (key 3 is the future)
HAND_VALUES = [10.0, 20.0, 30.0, 40.0]  # v_s, one number per key
HAND_IDX = [2, 0, -1, -1]  # the selected slots of row 2, K = 4


def _hand_output(slots):
    """Σ softmax(ℓ over the listed slots) · v, for the hand case."""
    e = [math.exp(HAND_LOGITS[s]) for s in slots]
    return sum(w * HAND_VALUES[s] for w, s in zip(e, slots)) / sum(e)


def check_empty_slot(answer):
    """Exercise 2: the output of the hand case (query 2, selected [2, 0, -1, -1]), one number."""
    name = "Exercise 2 (the -1 slot, by hand)"
    x, verdict = read_number(name, answer)
    if verdict is not None:
        return verdict
    right = _hand_output([2, 0])
    if close(x, right, 1e-3):
        return correct(
            name,
            f"o = {right:.3f}: only keys 2 and 0 take part, with weights renormalised over the two "
            "(0.731 and 0.269); the -1 slots contribute nothing.",
        )
    e = [math.exp(v) for v in HAND_LOGITS]
    mistakes = {
        "the -1 slots read k[-1] and v[-1], the LAST token, which is in query 2's future.": _hand_output(
            [2, 0, 3, 3]
        ),
        "the -1 slots were clamped to 0: token 0 then counts three times.": _hand_output([2, 0, 0, 0]),
        "the -1 slots were scored 0 (weight e⁰ = 1) instead of −∞: an empty slot must get weight 0.": (
            e[2] * 30 + e[0] * 10 + 2 * 40
        )
        / (e[2] + e[0] + 2),
        "these are the dense weights (softmax over keys 0, 1, 2) kept on S_t without renormalising: "
        "the sparse softmax runs over S_t only.": (e[0] * 10 + e[2] * 30) / (e[0] + e[1] + e[2]),
        "that is dense causal attention over keys 0, 1, 2: key 1 is not selected.": _hand_output([0, 1, 2]),
        "that attends to every key, the future key 3 included.": _hand_output([0, 1, 2, 3]),
    }
    for why, v in mistakes.items():
        if close(x, v, 1e-3):
            return wrong(name, f"{x:.3f}: {why}")
    return wrong(name, f"{x:.3f} is not it: softmax of the logits over S_t = {{2, 0}}, times the values.")


def check_index_sets(answer, cfg=SMOLLM2_HOST):
    """Exercise 3: top-k index sets per token for the whole SmolLM2 host with DSA in every layer."""
    name = "Exercise 3 (how many selections)"
    if answer is None:
        return not_answered(name)
    n = as_number(answer)
    if n is None:
        return wrong(name, f"expected one number, got {type(answer).__name__}.")
    L, H, Hkv = cfg.n_layers, cfg.n_heads, cfg.n_kv_heads
    if n == L:
        return correct(
            name,
            f"{L}: one set per token and layer, shared by all {H} query heads and {Hkv} kv heads "
            "(each layer has its own indexer, so the sets differ between layers).",
        )
    named = {
        L * H: "one per query head; DSA selects once per token per layer and every head reads that set.",
        L * Hkv: "one per kv head; the selection is shared by all heads, kv heads included.",
        L * cfg.index_n_heads: "one per indexer head; the indexer heads' votes are summed into ONE score.",
        1: "1 is per layer; each of the model's layers has its own indexer and its own selection.",
        H: "one per query head, and only one layer.",
    }
    if n in named:
        return wrong(name, f"{n:g}: {named[n]}")
    return wrong(name, f"{n:g} is not it. Look at the shape of topk_indices, [B, T, K], and count layers.")


def check_rung_memory(answer, T=65536, H=16, K=256):
    """Exercise 4: MiB of the masked rung's [1,H,T,T] fp32 scores and the gathered rung's [1,T,H,K] probs."""
    name = "Exercise 4 (memory of the two rungs)"
    (masked, gathered), verdict = read_pair(name, answer, "masked_mib, gathered_mib")
    if verdict is not None:
        return verdict
    right_m, right_g = 4 * H * T * T / 2**20, 4 * T * H * K / 2**20
    if close(masked, right_m) and close(gathered, right_g):
        return correct(
            name,
            f"{right_m:,.0f} MiB vs {right_g:,.0f} MiB: the masked rung is {right_m / right_g:,.0f}× "
            "bigger (T/K), and both rungs compute the same output.",
        )
    if close(masked, right_g) and close(gathered, right_m):
        return wrong(name, "the two numbers are swapped: masked first, gathered second.")
    for value, right, which, shape in (
        (masked, right_m, "masked", "[1, H, T, T]"),
        (gathered, right_g, "gathered", "[1, T, H, K]"),
    ):
        if close(value, right):
            continue
        reasons = [
            why
            for factor, why in ((H, f"the H = {H} heads"), (4, "the 4 bytes per fp32 element"))
            if close(value, right / factor)
        ]
        if reasons:
            return wrong(
                name,
                f"the {which} number is {right / value:g}× too small: it leaves out {' or '.join(reasons)}.",
            )
        if close(value, right * 2**20 / 1e6):
            return wrong(name, f"the {which} number is in MB (10⁶); the question asks MiB (2²⁰ bytes).")
        return wrong(name, f"the {which} number {value:,.1f} is off: {shape} floats × 4 bytes / 2**20.")
    return wrong(name, "check both numbers.")
