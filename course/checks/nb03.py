"""Checkers for notebook 03, top-k selection (the causal re-mask trap, ties, k ≥ T)."""

import torch

from course.feedback import as_number, as_tensor, correct, not_answered, run_guarded, wrong
from dsa_core.dense import causal_mask
from dsa_core.pipeline import index_topk
from dsa_core.topk import select_topk

# Exercise 1's score map, printed as a table in the notebook: row t holds I[t, 0 … t].
EX_ROWS = [
    [1.0],
    [0.5, 2.0],
    [3.0, 1.0, 3.0],
    [0.0, 2.0, 2.0, 1.0],
    [1.5, 0.0, 2.5, 2.5, 0.5],
    [0.0, 4.0, 1.0, 1.0, 1.0, 3.0],
    [2.0, 2.0, 2.0, 0.0, 5.0, 1.0, 0.5],
    [1.0, 0.0, 0.0, 3.0, 3.0, 2.0, 1.0, 0.0],
]


def _row_problem(row, scores_row, t, k, T, label):
    """What is wrong with one selected row (a list of positions), or None if it is right."""
    right = [int(i) for i in select_topk(scores_row[None, None], k)[0, 0]]
    row = [int(i) for i in row]
    if len(row) != k:
        return f"{label} has {len(row)} slots; it must have exactly k = {k} (pad with -1)."
    future = [s for s in row if s > t]
    if future:
        return (
            f"{label} selects position {future[0]}, which is in the future (query {t} may only see "
            f"0 … {t}). This is the re-mask trap: topk over −inf scores still returns them."
        )
    bad = [s for s in row if s < -1 or s >= T]
    if bad:
        return f"{label} holds {bad[0]}, which is not a position in 0 … {T - 1} (or -1 for an empty slot)."
    zero_pad = [i for i, (a, r) in enumerate(zip(row, right)) if r == -1 and a == 0]
    if zero_pad:
        return (
            f"{label} holds 0 in slot {zero_pad[0]}, which must be empty (-1): query {t} sees only "
            f"{t + 1} keys. Padding with 0 (or clamping -1 to 0) makes attention read token 0 again."
        )
    real = [s for s in row if s >= 0]
    if len(set(real)) != len(real):
        return f"{label} selects a position twice."
    if row == right:
        return None
    visible = min(t + 1, k)
    if len(real) < visible:
        return (
            f"{label} fills only {len(real)} slots, but query {t} sees {t + 1} keys, so it keeps "
            f"{visible}: min(t + 1, k)."
        )
    if -1 in row[: len(real)]:
        return f"{label}: the -1 slots go at the end, after every real position."
    if set(real) == set(right[:visible]):
        for a, b in zip(real, right):
            if a != b:
                sa, sb = float(scores_row[a]), float(scores_row[b])
                if sa == sb:
                    return (
                        f"{label}: positions {min(a, b)} and {max(a, b)} tie at score {sa:g}; ties go to "
                        f"the lower position, so {min(a, b)} comes first (a sort without stable=True "
                        "may order tied scores any way)."
                    )
                return (
                    f"{label} is not best-first: position {b} (score {sb:g}) must come before {a} ({sa:g})."
                )
    missing = [s for s in right if s >= 0 and s not in real]
    extra = [s for s in real if s not in right]
    if missing and extra:
        return (
            f"{label} keeps position {extra[0]} (score {float(scores_row[extra[0]]):g}) but drops "
            f"position {missing[0]} (score {float(scores_row[missing[0]]):g}), which scores higher."
        )
    return f"{label} should be {right}."


def check_select_row(answer, t=6, k=8):
    """Exercise 1: the selection of row t of EX_ROWS with budget k, best first, -1 padded."""
    name = "Exercise 1 (one row by hand)"
    if answer is None:
        return not_answered(name)
    x = as_tensor(answer, torch.int64)
    if x is None or x.dim() != 1:
        return wrong(name, f"expected a list of {k} positions, got {type(answer).__name__}.")
    T = len(EX_ROWS)
    scores_row = torch.full((T,), float("-inf"))
    scores_row[: t + 1] = torch.tensor(EX_ROWS[t])
    problem = _row_problem(x.tolist(), scores_row, t, k, T, f"row {t}")
    if problem:
        return wrong(name, problem)
    return correct(
        name,
        f"row {t} = {x.tolist()}: best first, ties to the lower position, "
        f"{max(0, k - t - 1)} empty slot(s) because only {t + 1} keys are visible.",
    )


def _cases():
    """Score maps [1,T,T] (future = −inf) and budgets k that exercise every rule."""
    g = torch.Generator().manual_seed(3)
    cases = []
    for B, T, k, kind in (
        (1, 8, 3, "random"),
        (2, 8, 8, "random"),
        (1, 6, 10, "random"),
        (1, 10, 4, "ties"),
        (1, 12, 5, "integers"),
        (1, 24, 6, "ties"),  # rows longer than 16: a sort without stable=True reorders ties here
        (1, 24, 7, "integers"),
        (1, 1, 1, "random"),
    ):
        if kind == "random":
            s = torch.randn(B, T, T, generator=g)
        elif kind == "ties":
            s = torch.zeros(B, T, T)
        else:
            s = torch.randint(0, 3, (B, T, T), generator=g).float()
        cases.append((s.masked_fill(~causal_mask(T, T), float("-inf")), k))
    return cases


FORBIDDEN = {
    "dsa.select_topk": select_topk,
    "dsa.index_topk": index_topk,
    "topk": "topk",  # torch.topk and Tensor.topk
}


def check_select_function(fn):
    """Exercise 2: a student's select function(scores [B,T,T], k) -> [B,T,k], compared on several cases."""
    name = "Exercise 2 (your own select_topk)"
    if fn is None:
        return not_answered(name)
    if not callable(fn):
        return wrong(name, f"expected a function my_select(scores, k), got {type(fn).__name__}.")
    for scores, k in _cases():
        B, T = scores.shape[0], scores.shape[-1]
        try:
            out, used = run_guarded(fn, (scores.clone(), k), FORBIDDEN)
        except Exception as e:  # the student's code: report, never crash the notebook
            return wrong(name, f"your function raised {type(e).__name__}: {e} (T = {T}, k = {k}).")
        if used:
            return wrong(
                name,
                f"your function calls `{used}`: this exercise asks you to write the selection "
                "yourself (a loop and `sorted` are fine).",
            )
        out = as_tensor(out, torch.int64)
        if out is None or tuple(out.shape) != (B, T, k):
            shape = None if out is None else tuple(out.shape)
            return wrong(
                name,
                f"for scores [{B}, {T}, {T}] and k = {k} it returned shape {shape}, "
                f"expected ({B}, {T}, {k}).",
            )
        for b in range(B):
            for t in range(T):
                problem = _row_problem(
                    out[b, t].tolist(), scores[b, t], t, k, T, f"with B = {B}, T = {T}, k = {k}: row {t}"
                )
                if problem:
                    return wrong(name, problem)
    return correct(
        name,
        "matches dsa.select_topk on random rows, batches, all-tied rows (short and 24 long), short rows, "
        "T = 1 and k > T.",
    )


def check_selected_pairs(answer, T=8192, k=2048):
    """Exercise 3: how many (query, key) pairs sparse attention uses in a prefill of T tokens."""
    name = "Exercise 3 (pairs after selection)"
    if answer is None:
        return not_answered(name)
    n = as_number(answer)
    if n is None:
        return wrong(name, f"expected one number, got {type(answer).__name__}.")
    short = min(T, k)
    right = short * (short + 1) // 2 + max(0, T - k) * k  # Σ_t min(t + 1, k)
    dense = T * (T + 1) // 2
    if n == right:
        return correct(
            name,
            f"{right:,} pairs, {dense / right:.2f}× fewer than dense ({dense:,}). "
            "The saving grows with T: the dense count is quadratic, this one linear.",
        )
    if n == T * k:
        return wrong(
            name,
            f"{n:,.0f} = T·k assumes every query has k keys to pick from; query t < {k} "
            "sees only t + 1 keys and keeps them all.",
        )
    if n == dense:
        return wrong(name, f"{n:,.0f} is dense causal attention: T(T+1)/2. Each query keeps at most k.")
    if n == sum(min(t, k) for t in range(T)):
        return wrong(name, f"{n:,.0f} = Σ min(t, k) is off by one: query t sees t + 1 keys (itself too).")
    if n == k * T / 2:
        return wrong(name, f"{n:,.0f} = k·T/2 is not it: every query from t = k − 1 on keeps exactly k.")
    return wrong(name, f"{n:,.0f} is not it: add up min(t + 1, k) for t = 0 … T − 1.")
