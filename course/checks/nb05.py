"""Checkers for notebook 05, DSA on a real model (recall, the window baseline, the ideal ceiling)."""

import torch

from course.feedback import as_number, as_tensor, close, correct, not_answered, wrong
from dsa_core.metrics import attention_recall, oracle_topk, window_topk


def check_recall(answer, rec, t):
    """Exercise 1: attention-mass recall of the indexer's selection for query t of a LayerTrace `rec`."""
    name = "Exercise 1 (recall by hand)"
    if answer is None:
        return not_answered(name)
    x = as_number(answer)
    if x is None:
        return wrong(name, f"expected one number between 0 and 1, got {type(answer).__name__}.")
    idx = rec.topk_indices[t]  # [K]
    right = float(attention_recall(rec.dense_mean[t][None], idx[None])[0])
    if close(x, right, 1e-4):
        return correct(
            name,
            f"recall = {right:.3f}: the sparse layer keeps {right:.0%} of query {t}'s "
            "dense attention mass (head mean) and renormalises it.",
        )
    sel = idx[idx >= 0]
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
    if rec.index_scores is not None and close(x, float(rec.index_scores[t, sel].sum()), 1e-4):
        return wrong(name, "this sums the index scores; recall sums the dense attention probabilities.")
    if close(x, float(rec.dense_mean[t, : t + 1].sum()), 1e-4):
        return wrong(name, "this sums the whole row; sum only over the selected positions.")
    return wrong(name, f"{x:.4f} is not it: Σ over s in topk_indices[{t}] (skip -1) of dense_mean[{t}, s].")


def check_window(answer, t, k, n_sinks=4):
    """Exercise 2: the sliding-window-with-sinks selection of query t, budget k (any order)."""
    name = "Exercise 2 (the window baseline)"
    if answer is None:
        return not_answered(name)
    x = as_tensor(answer, torch.int64)
    if x is None or x.dim() != 1:
        return wrong(name, f"expected a list of positions, got {type(answer).__name__}.")
    got = [int(s) for s in x if int(s) >= 0]
    right = sorted(int(s) for s in window_topk(t + 1, k, n_sinks)[t] if int(s) >= 0)
    if sorted(got) == right and len(got) == len(set(got)):
        return correct(
            name,
            f"the first {n_sinks} tokens (attention sinks) and the {k - n_sinks} most "
            f"recent ones, {t - (k - n_sinks) + 1}…{t}: the same budget k = {k}, chosen without "
            "looking at the text.",
        )
    if any(s > t for s in got):
        return wrong(name, f"position {max(got)} is in the future of query {t}.")
    if len(got) != len(set(got)):
        return wrong(name, "a position appears twice.")
    if len(got) != len(right):
        return wrong(name, f"{len(got)} positions; the budget is k = {k} (sinks included).")
    if t not in got:
        return wrong(
            name, f"the window must end at the query itself (position {t}): a token attends to itself."
        )
    missing = sorted(set(right) - set(got))
    return wrong(
        name,
        f"position {missing[0]} is missing: sinks 0…{n_sinks - 1}, then the most recent "
        f"{k - n_sinks} positions up to {t}.",
    )


def check_ceiling(answer, rec, t, k):
    """Exercise 3: the highest recall any selection of k keys can reach for query t."""
    name = "Exercise 3 (the ceiling)"
    if answer is None:
        return not_answered(name)
    x = as_number(answer)
    if x is None:
        return wrong(name, f"expected one number between 0 and 1, got {type(answer).__name__}.")
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
    picks = rec.select(k).topk_indices[t] if rec.index_scores is not None else None
    if picks is not None and close(x, float(attention_recall(row[None], picks[None])[0]), 1e-4):
        return wrong(name, "this is the indexer's recall; the ceiling takes the k largest dense weights.")
    return wrong(name, f"{x:.4f} is not it: sort dense_mean[{t}] in decreasing order and add the first k.")
