"""Notebook 03 checkers: the re-mask trap, tie order, padding and ordering each get a precise message."""

import torch

import dsa_core as dsa
from course.checks import nb03

ROWS = [
    [1.0],
    [0.5, 2.0],
    [3.0, 1.0, 3.0],
    [0.0, 2.0, 2.0, 1.0],
    [1.5, 0.0, 2.5, 2.5, 0.5],
    [0.0, 4.0, 1.0, 1.0, 1.0, 3.0],
    [2.0, 2.0, 2.0, 0.0, 5.0, 1.0, 0.5],
    [1.0, 0.0, 0.0, 3.0, 3.0, 2.0, 1.0, 0.0],
]


def _scores():
    s = torch.full((1, 8, 8), float("-inf"))
    for t, r in enumerate(ROWS):
        s[0, t, : t + 1] = torch.tensor(r)
    return s


def test_select_row():
    s = _scores()
    assert nb03.check_select_row([1, 2, 3, 0, -1, -1], s, t=3, k=6)
    assert nb03.check_select_row(None, s, t=3, k=6).status == "unanswered"
    fb = nb03.check_select_row([1, 2, 3, 0, 5, 4], s, t=3, k=6)
    assert not fb and "row 3 selects position 5, which is in the future" in fb.message
    assert "tie" in nb03.check_select_row([2, 1, 3, 0, -1, -1], s, t=3, k=6).message
    assert "best-first" in nb03.check_select_row([3, 1, 2, 0, -1, -1], s, t=3, k=6).message
    assert "exactly k = 6" in nb03.check_select_row([1, 2, 3, 0], s, t=3, k=6).message
    assert "min(t + 1, k)" in nb03.check_select_row([1, 2, 3, -1, -1, -1], s, t=3, k=6).message
    assert "drops" in nb03.check_select_row([1, 2, 0], s, t=3, k=3).message


def _naive(scores, k):
    return scores.topk(min(k, scores.shape[-1]), dim=-1).indices


def test_select_function():
    assert nb03.check_select_function(lambda s, k: dsa.select_topk(s, k))
    assert nb03.check_select_function(None).status == "unanswered"
    fb = nb03.check_select_function(_naive)
    assert not fb and "in the future" in fb.message
    fb = nb03.check_select_function(lambda s, k: 1 / 0)
    assert "ZeroDivisionError" in fb.message
    assert not nb03.check_select_function("not a function")


def test_selected_pairs():
    right = sum(min(t + 1, 2048) for t in range(8192))
    assert nb03.selected_pairs(8192, 2048) == right
    assert nb03.check_selected_pairs(right)
    assert "T·k" in nb03.check_selected_pairs(8192 * 2048).message
    assert "dense" in nb03.check_selected_pairs(8192 * 8193 // 2).message
