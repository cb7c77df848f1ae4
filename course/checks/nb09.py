"""Checkers for notebook 09, decode: one attention step from a growing KV cache, DSA's selection for a new
token from a preallocated index-key cache (the official layout), and the bytes a decode step reads."""

import math

import torch

from course.feedback import (
    as_tensor,
    close,
    correct,
    not_answered,
    read_pair,
    run_guarded,
    same_tensor,
    wrong,
)
from dsa_core.cost import flops
from dsa_core.dense import dense_attention
from dsa_core.fast.cpu import index_scores_fast, select_topk_fast
from dsa_core.host.generate import step_bytes
from dsa_core.indexer import index_scores
from dsa_core.topk import select_topk


def _attend(q, k, v):
    """One query [D] over T keys and values [T, D] (dense.dense_attention with S = 1 < T) -> [D]."""
    return dense_attention(q[None, None, None], k[None, :, None], v[None, :, None])[0, 0, 0]


def _step_cases():
    g = torch.Generator().manual_seed(9)
    cases = []
    for T, D in ((6, 4), (11, 8), (2, 3)):  # T - 1 cached tokens, then the new one
        q, k_new, v_new = (torch.randn(D, generator=g) for _ in range(3))
        k_cache, v_cache = torch.randn(T - 1, D, generator=g), torch.randn(T - 1, D, generator=g)
        k_all, v_all = torch.cat([k_cache, k_new[None]]), torch.cat([v_cache, v_new[None]])
        cases.append(
            {
                "args": (q, k_new, v_new, k_cache, v_cache),
                "label": f"{T - 1} cached tokens of dimension {D}",
                "right": (_attend(q, k_all, v_all), k_all, v_all),
                "own_left_out": _attend(q, k_cache, v_cache),
                "no_scale": _attend(q * math.sqrt(D), k_all, v_all),
                "prepended": torch.cat([k_new[None], k_cache]),
            }
        )
    return cases


def _three(name, out):
    """(out, k, v) as tensors, or (None, verdict)."""
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        return None, wrong(
            name, "return three things: (the output [D], the grown key cache, the grown value cache)."
        )
    parts = [as_tensor(x) for x in out]
    if any(p is None for p in parts):
        return None, wrong(name, "each of the three results must be a tensor.")
    return parts, None


def check_decode_step(fn):
    """Exercise 1: my_decode_step(q, k_new, v_new, k_cache, v_cache) -> (out [D], k_cache [T, D],
    v_cache [T, D]): append the new token's key and value, then attend over all T, on the checker's
    own inputs."""
    name = "Exercise 1 (one decode step)"
    if fn is None:
        return not_answered(name)
    if not callable(fn):
        return wrong(
            name,
            "expected a function my_decode_step(q, k_new, v_new, k_cache, v_cache), got "
            f"{type(fn).__name__}.",
        )
    forbidden = {
        "dense_attention": dense_attention,
        "scaled_dot_product_attention": "scaled_dot_product_attention",
    }
    for case in _step_cases():
        label, (out_r, k_r, v_r) = case["label"], case["right"]
        try:
            out, used = run_guarded(fn, tuple(a.clone() for a in case["args"]), forbidden)
        except Exception as e:  # the student's code: report it, never crash the notebook
            return wrong(name, f"your function raised {type(e).__name__}: {e} ({label}).")
        if used:
            return wrong(
                name, f"your function calls `{used}`: write the softmax over the cached keys yourself."
            )
        parts, verdict = _three(name, out)
        if verdict is not None:
            return verdict
        o, k, v = parts
        T = k_r.shape[0]
        if k.shape[0] == T - 1 or v.shape[0] == T - 1:
            return wrong(
                name,
                f"{label}: the cache did not grow (it still holds {T - 1} rows). Append the new key and "
                "value, so the next step sees this token too.",
            )
        if o.shape == out_r.shape and same_tensor(o, case["own_left_out"]):
            return wrong(
                name,
                f"{label}: the new token's own key is left out: it attends only to the {T - 1} earlier "
                "tokens. Append first, then attend: a token always sees itself (the diagonal of the "
                "causal mask).",
            )
        if k.shape == k_r.shape and same_tensor(k, case["prepended"]):
            return wrong(
                name, f"{label}: the new key went to the front; the cache keeps tokens in order, append it."
            )
        if not (same_tensor(k, k_r) and same_tensor(v, v_r)):
            return wrong(
                name, f"{label}: the returned caches should be the old ones with the new row appended."
            )
        if o.shape == out_r.shape and same_tensor(o, case["no_scale"]):
            return wrong(name, f"{label}: the logits need the scale 1/√D before the softmax.")
        if o.shape != out_r.shape or not same_tensor(o, out_r):
            return wrong(name, f"{label}: the output is off: softmax(K q / √D) weights the rows of V.")
    return correct(
        name,
        "append, then attend over every cached token, the new one included: exactly what host/model.py's "
        "LayerCache.append does before attention (it writes in place into a preallocated buffer).",
    )


def _index_cases():
    g = torch.Generator().manual_seed(90)
    cases = []
    for P, step, cap, h, d, k in ((7, 3, 16, 2, 4, 4), (12, 0, 14, 3, 5, 5), (5, 6, 16, 2, 3, 8)):
        T = P + step + 1  # the new token sits at position P + step: it sees T keys
        q, w = torch.randn(h, d, generator=g), torch.randn(h, generator=g)
        k_new = torch.randn(d, generator=g)
        buf = torch.zeros(cap, d)
        buf[: P + step] = torch.randn(P + step, d, generator=g)
        buf[P + step + 1 :] = 5.0 * torch.randn(cap - P - step - 1, d, generator=g)  # rows not written yet
        grown = buf.clone()
        grown[P + step] = k_new

        def picks(keys, n=k, q=q, w=w):  # token top-k of one query over `keys` (ties to the lower position)
            s = index_scores(q[None, None], keys[None], w[None, None])  # [1, 1, n_keys]
            return select_topk(s, n)[0, 0]

        cases.append(
            {
                "args": (q, w, k_new, buf, P, step, k),
                "label": f"a {P}-token prompt, step {step}, k = {k}",
                "P": P,
                "step": step,
                "T": T,
                "right": picks(grown[:T]),
                "grown": grown,
                "own_left_out": picks(buf[: T - 1]),
                "whole_buffer": picks(grown),
                "at_step": picks(torch.cat([buf[:step], k_new[None]])),
            }
        )
    return cases


def check_index_step(fn):
    """Exercise 2: my_index_step(q, w, k_new, index_cache, P, step, k) -> (picks [k], index_cache): write
    the new token's indexer key into the preallocated cache at its position P + step, score every key
    up to it, keep the k best (positions in the whole text, best first), on the checker's own inputs."""
    name = "Exercise 2 (DSA's selection for a new token)"
    if fn is None:
        return not_answered(name)
    if not callable(fn):
        return wrong(
            name,
            "expected a function my_index_step(q, w, k_new, index_cache, P, step, k), got "
            f"{type(fn).__name__}.",
        )
    forbidden = {"select_topk_fast": select_topk_fast, "index_scores_fast": index_scores_fast}
    for case in _index_cases():
        label, right, P, step, T = case["label"], case["right"], case["P"], case["step"], case["T"]
        buf = case["args"][3].clone()
        try:
            out, used = run_guarded(
                fn,
                (*(a.clone() if torch.is_tensor(a) else a for a in case["args"][:3]), buf, *case["args"][4:]),
                forbidden,
            )
        except Exception as e:  # the student's code: report it, never crash the notebook
            return wrong(name, f"your function raised {type(e).__name__}: {e} ({label}).")
        if used:
            return wrong(
                name, f"your function calls `{used}`: use the readable index_scores and select_topk."
            )
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            return wrong(name, "return two things: (the picks [k], the index-key cache).")
        got, cache = as_tensor(out[0], torch.int64), as_tensor(out[1])
        if got is None or cache is None or got.dim() != 1:
            return wrong(name, "the picks must be a 1-d list of positions and the cache a tensor.")
        if cache.shape != case["grown"].shape:
            return wrong(
                name, f"{label}: return the cache buffer itself, shape {tuple(case['grown'].shape)}."
            )
        row = case["args"][2]
        if not same_tensor(cache[P + step], row):
            if same_tensor(cache[step], row):
                return wrong(
                    name,
                    f"{label}: the new key went to row {step}, its index among the generated tokens; it "
                    f"belongs at its position in the whole text, P + step = {P + step}: indices are "
                    "offset by the prompt.",
                )
            return wrong(
                name,
                f"{label}: the cache did not grow: row {P + step} must hold the new token's key, or the next "
                "step scores a key that is not there.",
            )
        if got.tolist() == right.tolist():
            continue
        if got.tolist() == case["own_left_out"].tolist():
            return wrong(
                name,
                f"{label}: the new token's own key is left out (you scored rows 0 … {T - 2}): it sits at row "
                f"{T - 1} and a query may always pick itself.",
            )
        if got.tolist() == case["at_step"].tolist() or got.tolist() == (right - P).tolist():
            return wrong(
                name,
                f"{label}: positions are counted from the first generated token: indices are offset by the "
                f"prompt ({P} tokens). The query sits at position P + step = {P + step} of the whole text.",
            )
        if got.tolist() == case["whole_buffer"].tolist() or (got.numel() and int(got.max()) >= T):
            return wrong(
                name,
                f"{label}: you scored the whole buffer, rows after {T - 1} included: they hold no token yet "
                f"(and would be the future). Score index_cache[:P + step + 1] only.",
            )
        if sorted(got.tolist()) == sorted(right.tolist()):
            return wrong(name, f"{label}: the right positions, but best first: order them by index score.")
        return wrong(name, f"{label}: expected {right.tolist()}, got {got.tolist()}.")
    return correct(
        name,
        "write at position P + step, score keys 0 … P + step, keep the k best: the official Indexer does "
        "the same with `self.k_cache[:bsz, start_pos:end_pos] = k` and scores `k_cache[:bsz, :end_pos]`.",
    )


def check_step_bytes(answer, T=65536):
    """Exercise 3: (dense_MB, dsa_MB) one decode step of DeepSeek-V3.2 reads from its caches at context
    T, whole model (61 layers), FP8 layout, k = 2,048 (1 MB = 10^6 bytes)."""
    name = "Exercise 3 (bytes a decode step reads)"
    (dense, dsa), verdict = read_pair(name, answer, "dense_MB, dsa_MB")
    if verdict is not None:
        return verdict
    shape = flops.V32_MQA
    right = step_bytes(T, shape.index_topk, "fp8", shape)
    want = (right["dense"] / 1e6, right["dsa"] / 1e6)
    if close(dense, want[0], 2e-3) and close(dsa, want[1], 2e-3):
        return correct(
            name,
            f"{want[0]:,.0f} MB dense, {want[1]:,.0f} MB with DSA ({want[0] / want[1]:.1f}× less); "
            f"{right['dsa index'] / right['dsa']:.0%} of DSA's bytes are the indexer keys it reads for every "
            "token.",
        )
    if close(dense, want[1], 2e-3) and close(dsa, want[0], 2e-3):
        return wrong(name, "swapped: dense first.")
    L = shape.n_layers
    kv, idx = 656, 132
    hints = [
        (
            dsa,
            shape.index_topk * kv * L / 1e6,
            "DSA also reads the indexer key (132 B) of EVERY cached token",
        ),
        (
            dsa,
            T * kv * L / 1e6,
            "DSA reads the keys and values of k = 2,048 tokens only, plus every index key",
        ),
        (dense, T * (kv + idx) * L / 1e6, "dense attention never reads the indexer keys"),
        (dense, want[0] / L, "that is one layer; the model has 61"),
        (dsa, want[1] / L, "that is one layer; the model has 61"),
        (
            dense,
            T * 1152 * L / 1e6,
            "that is a bf16 cache (1,152 B a token); the question sets DeepSeek's FP8 layout",
        ),
        (dense, right["dense"] / 2**20, "those are MiB (2^20 bytes); 1 MB here is 10^6 bytes"),
    ]
    for value, guess, why in hints:
        if close(value, guess, 2e-3):
            return wrong(name, f"{why}.")
    return wrong(
        name,
        "per layer: dense reads 656 B for each of the T tokens; DSA reads 132 B for each of the T tokens "
        "plus 656 B for each of the k picks; times 61 layers, / 10^6.",
    )
