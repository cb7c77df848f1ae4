"""Notebook 04 checkers: the -1 wrap-around, dense-instead-of-sparse, missing scale, memory mix-ups."""

import dsa_core as dsa
from course.checks import nb04


def _setup():
    q, k, v = dsa.toy_qkv(1, 12, 4, 64, H_kv=1, seed=1)
    iq, ik, iw = dsa.toy_indexer_inputs(1, 12, 4, 32, seed=0)
    return q, k, v, dsa.select_topk(dsa.index_scores(iq, ik, iw), 4)


def test_sparse_output():
    q, k, v, idx = _setup()
    right = dsa.sparse_attention(q, k, v, idx)[0, 7, 1]
    assert nb04.check_sparse_output(right, q, k, v, idx, t=7, head=1)
    assert nb04.check_sparse_output(None, q, k, v, idx, t=7, head=1).status == "unanswered"
    dense = dsa.dense_attention(q, k, v)[0, 7, 1]
    assert "dense attention" in nb04.check_sparse_output(dense, q, k, v, idx, t=7, head=1).message
    sel = idx[0, 7]
    unscaled = (k[0, sel, 0] @ q[0, 7, 1]).softmax(-1) @ v[0, sel, 0]
    assert "scale" in nb04.check_sparse_output(unscaled, q, k, v, idx, t=7, head=1).message
    assert "Dv = 64" in nb04.check_sparse_output(right[:10], q, k, v, idx, t=7, head=1).message


def test_empty_slot_output():
    q, k, v, idx = _setup()
    assert int(idx[0, 2, -1]) == -1
    right = dsa.sparse_attention(q, k, v, idx)[0, 2, 0]
    assert nb04.check_empty_slot_output(right, q, k, v, idx, t=2)
    sel = idx[0, 2]  # includes -1: reads the last token
    wrapped = (k[0, sel, 0] @ q[0, 2, 0] * 0.125).softmax(-1) @ v[0, sel, 0]
    fb = nb04.check_empty_slot_output(wrapped, q, k, v, idx, t=2)
    assert not fb and "read position 11" in fb.message and "future" in fb.message


def test_index_sets():
    assert nb04.check_index_sets(1)
    assert "every head" in nb04.check_index_sets(128).message
    assert "indexer heads" in nb04.check_index_sets(64).message


def test_rung_memory():
    m, g = 4 * 4 * 32768**2 / 2**20, 4 * 32768 * 4 * 64 / 2**20
    assert nb04.check_rung_memory((m, g))
    assert "swapped" in nb04.check_rung_memory((g, m)).message
    fb = nb04.check_rung_memory((m / 4, g))  # H = 4: heads and bytes are both a factor 4 here
    assert not fb and "H = 4 heads or the 4 bytes" in fb.message
    assert "gathered number is 4× too small" in nb04.check_rung_memory((m, g / 4)).message
    assert "off" in nb04.check_rung_memory((m, g * 3)).message
    assert "MB" in nb04.check_rung_memory((m * 2**20 / 1e6, g)).message
    assert "pair" in nb04.check_rung_memory(5).message
