"""Notebook 03 checkers: the stub, each named mistake, the shortcuts (all fail) and the solutions (pass)."""

import torch

import dsa_core as dsa
from course.checks import nb03


def test_select_row():
    right = [4, 0, 1, 2, 5, 6, 3, -1]  # row 6 of EX_ROWS, k = 8
    assert nb03.check_select_row(right)
    assert nb03.check_select_row(None).status == "unanswered"
    named = {
        "in the future": [4, 0, 1, 2, 5, 6, 3, 7],  # the re-mask trap: a plain topk over −inf
        "lower position": [4, 1, 0, 2, 5, 6, 3, -1],  # ties broken the other way
        "best-first": [0, 1, 2, 4, 5, 6, 3, -1],  # ascending instead of best first
        "exactly k = 8": [4, 0, 1, 2, 5, 6, 3],  # no padding
        "must be empty (-1)": [4, 0, 1, 2, 5, 6, 3, 0],  # -1 clamped / padded with 0
        "after every real position": [-1, 4, 0, 1, 2, 5, 6, 3],  # -1 first
    }
    for words, answer in named.items():
        fb = nb03.check_select_row(answer)
        assert not fb and words in fb.message, (words, fb)
    assert not nb03.check_select_row([1, 2, 3, 0, -1, -1])  # the old exercise's printed answer
    assert not nb03.check_select_row("4, 0, 1, 2, 5, 6, 3, -1")


def solution(scores, k):
    B, S, T = scores.shape
    out = torch.full((B, S, k), -1, dtype=torch.int64)
    for b in range(B):
        for t in range(S):
            visible = [s for s in range(T) if scores[b, t, s] > float("-inf")]
            best = sorted(visible, key=lambda s: (-float(scores[b, t, s]), s))[:k]
            out[b, t, : len(best)] = torch.tensor(best, dtype=torch.int64)
    return out


def test_select_function():
    assert nb03.check_select_function(solution)
    assert nb03.check_select_function(None).status == "unanswered"

    def naive(scores, k):  # a plain topk over the −inf scores: the re-mask trap
        return scores.topk(min(k, scores.shape[-1]), dim=-1).indices

    def higher_ties(scores, k):
        B, S, T = scores.shape
        res = torch.full((B, S, k), -1, dtype=torch.int64)
        for b in range(B):
            for t in range(S):
                vis = [s for s in range(T) if scores[b, t, s] > float("-inf")]
                best = sorted(vis, key=lambda s: (-float(scores[b, t, s]), -s))[:k]
                res[b, t, : len(best)] = torch.tensor(best, dtype=torch.int64)
        return res

    def zero_pad(scores, k):
        return solution(scores, k).clamp(min=0)

    fb = nb03.check_select_function(naive)
    assert not fb and "topk" in fb.message  # the library/builtin call is refused first
    assert "lower position" in nb03.check_select_function(higher_ties).message
    assert "must be empty (-1)" in nb03.check_select_function(zero_pad).message
    library = nb03.check_select_function(dsa.select_topk)
    assert not library and "dsa.select_topk" in library.message
    wrapped = nb03.check_select_function(lambda s, k: dsa.select_topk(s, k))
    assert not wrapped and "dsa.select_topk" in wrapped.message
    assert "ZeroDivisionError" in nb03.check_select_function(lambda s, k: 1 / 0).message
    printed = torch.tensor([[4, 0, 1, 2, 5, 6, 3, -1]])  # a copied answer is not a function
    assert "expected a function" in nb03.check_select_function(printed).message
    assert "shape" in nb03.check_select_function(lambda s, k: printed).message


def _argsort_select(stable):
    def select(scores, k):  # argsort best first, slots past the visible keys set to -1
        B, S, T = scores.shape
        order = torch.argsort(scores, dim=-1, descending=True, stable=stable)[..., : min(k, T)]
        order = order.masked_fill(scores.gather(-1, order) == float("-inf"), -1)
        return torch.cat([order, order.new_full((B, S, k - order.shape[-1]), -1)], dim=-1)

    return select


def test_only_a_stable_sort_passes_the_tie_cases():
    assert nb03.check_select_function(_argsort_select(stable=True))
    # the checker has an all-tied case where a plain argsort really reorders ties on this torch
    scores, k = next((s, k) for s, k in nb03._cases() if s.shape[-1] > 16 and (s[0, -1] == 0).all())
    plain = torch.argsort(scores, dim=-1, descending=True)[..., :k]
    assert not torch.equal(plain, dsa.select_topk(scores, k))
    fb = nb03.check_select_function(_argsort_select(stable=False))
    assert not fb and "tie" in fb.message and "stable=True" in fb.message, fb


def test_selected_pairs():
    right = sum(min(t + 1, 2048) for t in range(8192))
    assert nb03.check_selected_pairs(right)
    assert nb03.check_selected_pairs(None).status == "unanswered"
    assert "T·k" in nb03.check_selected_pairs(8192 * 2048).message
    assert "dense" in nb03.check_selected_pairs(8192 * 8193 // 2).message
    assert "off by one" in nb03.check_selected_pairs(sum(min(t, 2048) for t in range(8192))).message
    assert "k·T/2" in nb03.check_selected_pairs(2048 * 8192 / 2).message
    assert not nb03.check_selected_pairs(str(right))
    assert not any(n == "selected_pairs" for n in dir(nb03))  # no public answer helper


def test_docs_do_not_print_exercise_1s_answer():
    """The worked row of exercise 1 appears in no page a student reads beside the notebook."""
    import pathlib

    row = torch.full((len(nb03.EX_ROWS),), float("-inf"))
    row[:7] = torch.tensor(nb03.EX_ROWS[6])
    answer = str(dsa.select_topk(row[None, None], 8)[0, 0].tolist())  # "[4, 0, 1, 2, 5, 6, 3, -1]"
    root = pathlib.Path(__file__).resolve().parents[2]
    for page in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        assert answer not in page.read_text(encoding="utf-8"), page.name
