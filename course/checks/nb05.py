"""Checkers for notebook 05, DSA on a real model (recall, the window baseline, the ideal ceiling)."""

import torch

from course.feedback import as_tensor, close, correct, not_answered, read_number, run_guarded, wrong
from dsa_core.metrics import attention_recall, oracle_topk, window_topk
from dsa_core.topk import select_topk


def check_recall(answer, rec, t, k):
    """Exercise 1: recall of the indexer's top-k for query t of a LayerTrace `rec`, at a budget k
    smaller than the one the trace selected with (so rec.recall does not hold it)."""
    name = "Exercise 1 (recall at a new budget)"
    x, verdict = read_number(name, answer, "one number between 0 and 1")
    if verdict is not None:
        return verdict
    row = rec.dense_mean[t]  # [T]
    idx = select_topk(rec.index_scores[t][None, None], k)[0]  # [1, k]
    right = float(attention_recall(row[None], idx)[0])
    K = rec.topk_indices.shape[-1]
    if close(x, right, 1e-4):
        return correct(
            name,
            f"recall = {right:.3f} at k = {k} (against {float(rec.recall[t]):.3f} at the trace's "
            f"k = {K}): the first {k} slots of a best-first top-{K} ARE the top-{k}.",
        )
    sel = idx[0][idx[0] >= 0]
    if close(x, float(rec.recall[t]), 1e-4):
        return wrong(
            name,
            f"{x:.3f} is the trace's recall at k = {rec.topk_indices.shape[-1]}; the question asks k = {k}.",
        )
    if close(x, 1.0, 1e-4):
        return wrong(
            name,
            "1.0 is what the sparse attention itself sums to (it is renormalised). Recall is "
            "measured on the DENSE attention: how much of it falls on the kept keys.",
        )
    if rec.dense_probs is not None:
        for h in range(rec.dense_probs.shape[0]):
            if close(x, float(rec.dense_probs[h, t, sel].sum()), 1e-4):
                return wrong(
                    name, f"this uses head {h} only; recall is on the mean over heads (rec.dense_mean)."
                )
    if close(x, float(rec.index_scores[t, sel].sum()), 1e-4):
        return wrong(name, "this sums the index scores; recall sums the dense attention probabilities.")
    last = rec.topk_indices[t][-k:]
    if close(x, float(row[last[last >= 0]].sum()), 1e-4):
        return wrong(
            name, f"these are the LAST {k} slots; the selection is best first, so take the first {k}."
        )
    if close(x, k / (t + 1), 1e-4):
        return wrong(name, "k/(t+1) is what a random pick keeps on average; sum the dense weights it keeps.")
    return wrong(name, f"{x:.4f} is not it: Σ over the top-{k} positions of dense_mean[{t}, s].")


def _window_cases():
    return ((100, 16, 4), (5, 16, 4), (40, 8, 0), (30, 6, 2), (0, 3, 1))


def check_window_function(fn):
    """Exercise 2: the student's my_window(t, k, n_sinks) -> the positions query t keeps (any order)."""
    name = "Exercise 2 (the window baseline)"
    if fn is None:
        return not_answered(name)
    if not callable(fn):
        return wrong(name, f"expected a function my_window(t, k, n_sinks), got {type(fn).__name__}.")
    for t, k, n_sinks in _window_cases():
        label = f"t = {t}, k = {k}, {n_sinks} sinks"
        try:
            out, used = run_guarded(fn, (t, k, n_sinks), {"dsa.window_topk": window_topk})
        except Exception as e:  # the student's code: report, never crash the notebook
            return wrong(name, f"your function raised {type(e).__name__}: {e} ({label}).")
        if used:
            return wrong(name, "your function calls `dsa.window_topk`: write the positions yourself.")
        x = as_tensor(out, torch.int64)
        if x is None or x.dim() != 1:
            return wrong(name, f"{label}: expected a list of positions, got {type(out).__name__}.")
        got = [int(s) for s in x if int(s) >= 0]
        right = sorted(int(s) for s in window_topk(t + 1, k, n_sinks)[t] if int(s) >= 0)
        if sorted(got) == right and len(got) == len(set(got)):
            continue
        if any(s > t for s in got):
            return wrong(name, f"{label}: position {max(got)} is in the future of query {t}.")
        if len(got) != len(set(got)):
            return wrong(
                name,
                f"{label}: a position appears twice (when t + 1 ≤ k the sinks and the window overlap: "
                "keep every visible position once).",
            )
        if t + 1 <= k and sorted(got) != right:
            return wrong(
                name, f"{label}: query {t} sees only {t + 1} keys, fewer than k: it keeps all of them."
            )
        if len(got) != len(right):
            return wrong(name, f"{label}: {len(got)} positions; the budget is k = {k} (sinks included).")
        if t not in got:
            return wrong(name, f"{label}: the window must end at the query itself (position {t}).")
        if n_sinks and sorted(got)[:n_sinks] == list(range(1, n_sinks + 1)):
            return wrong(name, f"{label}: the sinks are the FIRST tokens, positions 0 … {n_sinks - 1}.")
        missing = sorted(set(right) - set(got))
        return wrong(
            name,
            f"{label}: position {missing[0]} is missing: sinks 0…{n_sinks - 1}, then the most recent "
            f"{k - n_sinks} positions up to {t}.",
        )
    return correct(
        name,
        "right on five cases (short prefixes, no sinks, t = 0): the first tokens (attention sinks) and "
        "the most recent ones, the same budget k, chosen without looking at the text.",
    )


def check_ceiling(answer, rec, t, k):
    """Exercise 3: the highest recall any selection of k keys can reach for query t."""
    name = "Exercise 3 (the ceiling)"
    x, verdict = read_number(name, answer, "one number between 0 and 1")
    if verdict is not None:
        return verdict
    row = rec.dense_mean[t]  # [T]
    right = float(attention_recall(row[None], oracle_topk(row[None], k))[0])
    if close(x, right, 1e-4):
        return correct(
            name,
            f"{right:.3f}: the k largest attention weights. No indexer can beat it; a good "
            "one gets close (compare the indexer's recall above).",
        )
    if close(x, 1.0, 1e-4) and right < 1 - 1e-4:
        return wrong(name, f"query {t} sees {t + 1} keys, more than k = {k}: some mass is always lost.")
    picks = select_topk(rec.index_scores[t][None, None], k)[0]
    if close(x, float(attention_recall(row[None], picks)[0]), 1e-4):
        return wrong(name, "this is the indexer's recall; the ceiling takes the k largest dense weights.")
    for off in (-1, 1):
        if close(x, float(row.sort(descending=True).values[: k + off].sum()), 1e-4):
            return wrong(name, f"that sums the top {k + off}; the budget is exactly k = {k}.")
    if close(x, float(row.sort(descending=True).values[:64].sum()), 1e-4) and k != 64:
        return wrong(
            name, f"that is the ceiling at k = 64 (the notebook's budget); the question asks k = {k}."
        )
    return wrong(name, f"{x:.4f} is not it: sort dense_mean[{t}] in decreasing order and add the first k.")
