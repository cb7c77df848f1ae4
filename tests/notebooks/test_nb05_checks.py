"""Notebook 05 checkers, on a LayerTrace built from toy tensors (no model load needed)."""

import dsa_core as dsa
from course.checks import nb05
from dsa_core.analysis.trace import LayerTrace


def _rec(T=40, K=8):
    q, k, _ = dsa.toy_qkv(1, T, 3, 16, H_kv=1, seed=0)
    probs = dsa.attention_probs(q, k)[0]  # [H, T, T]
    iq, ik, iw = dsa.toy_indexer_inputs(1, T, 4, 32, seed=1)
    scores = dsa.index_scores(iq, ik, iw)[0]
    rec = LayerTrace(3, [f"t{i}" for i in range(T)], None, q[0], k[0], probs, probs.mean(0), scores)
    return rec.select(K)


def test_recall():
    rec = _rec()
    t = 30
    kept = [int(s) for s in rec.topk_indices[t] if s >= 0]
    right = float(rec.dense_mean[t, kept].sum())
    assert nb05.check_recall(right, rec, t)
    assert nb05.check_recall(None, rec, t).status == "unanswered"
    assert "DENSE attention" in nb05.check_recall(1.0, rec, t).message
    assert "head 1 only" in nb05.check_recall(float(rec.dense_probs[1, t, kept].sum()), rec, t).message
    assert "index scores" in nb05.check_recall(float(rec.index_scores[t, kept].sum()), rec, t).message


def test_window():
    assert nb05.check_window(list(range(4)) + list(range(89, 101)), t=100, k=16)
    assert nb05.check_window(list(range(89, 101))[::-1] + [3, 2, 1, 0], t=100, k=16)
    assert "future" in nb05.check_window(list(range(4)) + list(range(90, 102)), t=100, k=16).message
    assert "query itself" in nb05.check_window(list(range(4)) + list(range(88, 100)), t=100, k=16).message
    assert "budget" in nb05.check_window(list(range(88, 101)), t=100, k=16).message


def test_ceiling():
    rec = _rec()
    t = 35
    right = float(rec.dense_mean[t].sort(descending=True).values[:8].sum())
    assert nb05.check_ceiling(right, rec, t, 8)
    assert "some mass is always lost" in nb05.check_ceiling(1.0, rec, t, 8).message
    kept = [int(s) for s in rec.topk_indices[t] if s >= 0]
    assert "indexer's recall" in nb05.check_ceiling(float(rec.dense_mean[t, kept].sum()), rec, t, 8).message
