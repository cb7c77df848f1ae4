"""Checkers for notebook 03, top-k selection (the causal re-mask trap, ties, k ≥ T)."""

import torch

from course.feedback import as_number, as_tensor, correct, not_answered, wrong
from dsa_core.dense import causal_mask
from dsa_core.topk import select_topk


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
                        f"the lower position, so {min(a, b)} comes first."
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


def check_select_row(answer, scores, t, k):
    """Exercise 1: the selection of one row t, best first, -1 padded: scores [T] or [1,T,T] given."""
    name = "Exercise 1 (one row by hand)"
    if answer is None:
        return not_answered(name)
    x = as_tensor(answer, torch.int64)
    if x is None or x.dim() != 1:
        return wrong(name, f"expected a list of {k} positions, got {type(answer).__name__}.")
    scores_row = scores.reshape(-1, scores.shape[-1])[t] if scores.dim() > 1 else scores
    problem = _row_problem(x.tolist(), scores_row.float(), t, k, scores_row.numel(), f"row {t}")
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
    for T, k, kind in (
        (8, 3, "random"),
        (8, 8, "random"),
        (6, 10, "random"),
        (10, 4, "ties"),
        (12, 5, "integers"),
    ):
        if kind == "random":
            s = torch.randn(1, T, T, generator=g)
        elif kind == "ties":
            s = torch.zeros(1, T, T)
        else:
            s = torch.randint(0, 3, (1, T, T), generator=g).float()
        cases.append((s.masked_fill(~causal_mask(T, T), float("-inf")), k))
    return cases


def check_select_function(fn):
    """Exercise 2: a student's select function(scores [B,T,T], k) -> [B,T,k], compared on several cases."""
    name = "Exercise 2 (your own select_topk)"
    if fn is None:
        return not_answered(name)
    if not callable(fn):
        return wrong(name, f"expected a function my_select(scores, k), got {type(fn).__name__}.")
    for scores, k in _cases():
        T = scores.shape[-1]
        try:
            out = as_tensor(fn(scores.clone(), k), torch.int64)
        except Exception as e:  # the student's code: report, never crash the notebook
            return wrong(name, f"your function raised {type(e).__name__}: {e} (T = {T}, k = {k}).")
        if out is None or tuple(out.shape) != (1, T, k):
            shape = None if out is None else tuple(out.shape)
            return wrong(
                name,
                f"for scores [1, {T}, {T}] and k = {k} it returned shape {shape}, expected (1, {T}, {k}).",
            )
        for t in range(T):
            problem = _row_problem(
                out[0, t].tolist(), scores[0, t], t, k, T, f"with T = {T}, k = {k}: row {t}"
            )
            if problem:
                return wrong(name, problem)
    return correct(name, "matches dsa.select_topk on random rows, all-tied rows, short rows and k > T.")


def selected_pairs(T, k):
    """Σ_t min(t + 1, k): (query, key) pairs a causal DSA prefill of T tokens attends to."""
    short = min(T, k)
    return short * (short + 1) // 2 + max(0, T - k) * k


def check_selected_pairs(answer, T=8192, k=2048):
    """Exercise 3: how many (query, key) pairs sparse attention uses in a prefill of T tokens."""
    name = "Exercise 3 (pairs after selection)"
    if answer is None:
        return not_answered(name)
    n = as_number(answer)
    if n is None:
        return wrong(name, f"expected one number, got {type(answer).__name__}.")
    right = selected_pairs(T, k)
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
    return wrong(name, f"{n:,.0f} is not it: add up min(t + 1, k) for t = 0 … T − 1.")
