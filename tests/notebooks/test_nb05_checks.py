"""Notebook 05 checkers, on a LayerTrace built from toy tensors (no model load needed): the stub, each
named mistake, the shortcuts (all fail) and the solutions (pass)."""

import torch

import dsa_core as dsa
from course.checks import nb05
from dsa_core.analysis.trace import LayerTrace


def _rec(T=40, K=12):
    q, k, _ = dsa.toy_qkv(1, T, 3, 16, H_kv=1, seed=0)
    probs = dsa.attention_probs(q, k)[0]  # [H, T, T]
    iq, ik, iw = dsa.toy_indexer_inputs(1, T, 4, 32, seed=1)
    scores = dsa.index_scores(iq, ik, iw)[0]
    rec = LayerTrace(3, [f"t{i}" for i in range(T)], None, q[0], k[0], probs, probs.mean(0), scores)
    return rec.select(K)


def test_recall_at_a_new_budget():
    rec, t, k = _rec(), 30, 5
    kept = [int(s) for s in rec.topk_indices[t][:k]]  # best first: the first k slots are the top-k
    right = float(rec.dense_mean[t, kept].sum())
    assert nb05.check_recall(right, rec, t, k)
    assert nb05.check_recall(None, rec, t, k).status == "unanswered"
    assert "DENSE attention" in nb05.check_recall(1.0, rec, t, k).message
    assert "head 1 only" in nb05.check_recall(float(rec.dense_probs[1, t, kept].sum()), rec, t, k).message
    assert "index scores" in nb05.check_recall(float(rec.index_scores[t, kept].sum()), rec, t, k).message
    last = [int(s) for s in rec.topk_indices[t][-k:]]
    assert "LAST" in nb05.check_recall(float(rec.dense_mean[t, last].sum()), rec, t, k).message
    copied = nb05.check_recall(float(rec.recall[t]), rec, t, k)  # the stored recall at the trace's k
    assert not copied and "trace's recall" in copied.message
    assert not nb05.check_recall(str(right), rec, t, k)


def solution_window(t, k, n_sinks):
    if t + 1 <= k:
        return list(range(t + 1))  # everything visible
    return list(range(n_sinks)) + list(range(t - (k - n_sinks) + 1, t + 1))


def test_window_function():
    assert nb05.check_window_function(solution_window)
    assert nb05.check_window_function(None).status == "unanswered"
    named = {
        "end at the query itself": lambda t, k, n: (
            solution_window(t, k, n) if t + 1 <= k else list(range(n)) + list(range(t - (k - n), t))
        ),
        "FIRST tokens": lambda t, k, n: (
            solution_window(t, k, n)
            if t + 1 <= k
            else list(range(1, n + 1)) + list(range(t - (k - n) + 1, t + 1))
        ),
        "budget is k": lambda t, k, n: (
            solution_window(t, k, n) if t + 1 <= k else list(range(n)) + list(range(t - (k - n), t + 1))
        ),
        "appears twice": lambda t, k, n: list(range(n)) + list(range(max(0, t - (k - n) + 1), t + 1)),
        "in the future": lambda t, k, n: list(range(n)) + list(range(t - (k - n) + 2, t + 2)),
    }
    for words, fn in named.items():
        fb = nb05.check_window_function(fn)
        assert not fb and words in fb.message, (words, fb)
    library = nb05.check_window_function(lambda t, k, n: dsa.window_topk(t + 1, k, n)[t])
    assert not library and "window_topk" in library.message
    printed = list(range(4)) + list(range(89, 101))  # the old exercise's answer, copied
    assert "expected a function" in nb05.check_window_function(printed).message
    assert not nb05.check_window_function(lambda t, k, n: printed)


def test_ceiling():
    rec, t, k = _rec(), 30, 5
    right = float(rec.dense_mean[t].sort(descending=True).values[:k].sum())
    assert nb05.check_ceiling(right, rec, t=t, k=k)
    assert nb05.check_ceiling(None, rec, t=t, k=k).status == "unanswered"
    assert "some mass is always lost" in nb05.check_ceiling(1.0, rec, t=t, k=k).message
    picks = dsa.select_topk(rec.index_scores[t][None, None], k)[0, 0]
    indexer = float(rec.dense_mean[t, picks].sum())
    assert "indexer's recall" in nb05.check_ceiling(indexer, rec, t=t, k=k).message
    off = float(rec.dense_mean[t].sort(descending=True).values[: k + 1].sum())
    assert "exactly k" in nb05.check_ceiling(off, rec, t=t, k=k).message
    assert not nb05.check_ceiling(torch.tensor([right, right]), rec, t=t, k=k)
