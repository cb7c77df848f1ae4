"""Notebook 08 checkers: the solution passes, the stub is unanswered, and each named mistake gets its
own message (block top-n by hand, pooled keys, the saving of c = 4, choosing the computing layers)."""

import torch

from course.checks import nb08
from dsa_core.cost import flops
from dsa_core.family import selectors

ROW = torch.tensor([0.5, 3.0, 0.1, 0.2, 1.0, 1.1, 1.2, 1.3, 0.3, 0.0, 0.0, 0.0])  # 12 keys, query t = 9


def _row():
    s = ROW.clone()
    s[10:] = float("-inf")  # keys after the query
    return s


def test_block_row():
    s = _row()
    right = [8, 9, 0, 1, 2, 3]  # own block 2 (only 8, 9 visible) + block 0 (max 3.0)
    assert nb08.check_block_row(sorted(right), s, t=9, b=4, n=2)
    assert nb08.check_block_row(None, s, 9, 4, 2).status == "unanswered"
    assert "mean" in nb08.check_block_row([8, 9, 4, 5, 6, 7], s, 9, 4, 2).message
    assert "after the query" in nb08.check_block_row([8, 9, 10, 11, 0, 1], s, 9, 4, 2).message
    local = nb08.check_block_row([0, 1, 2, 3, 4, 5, 6, 7], s, 9, 4, 2)
    assert not local and "own block" in local.message


def test_block_row_token_topk_mistake_is_named():
    s = _row()
    tokens = sorted(int(i) for i in selectors.token_topk(s.reshape(1, 1, -1), 8)[0, 0] if i >= 0)
    assert "token top-k" in nb08.check_block_row(tokens, s, 9, 4, 2).message


def _solution(k, c):
    B, T, d = k.shape
    G = T // c
    return k[:, : G * c].reshape(B, G, c, d).mean(2)


def test_compress_keys():
    assert nb08.check_compress_keys(_solution)
    assert nb08.check_compress_keys(None).status == "unanswered"
    assert (
        "partial"
        in nb08.check_compress_keys(
            lambda k, c: torch.nn.functional.pad(k, (0, 0, 0, -(-k.shape[1] // c) * c - k.shape[1]))
            .reshape(k.shape[0], -1, c, k.shape[2])
            .mean(2)
        ).message
    )
    assert "sum, not mean" in nb08.check_compress_keys(lambda k, c: _solution(k, c) * c).message
    assert "calls" in nb08.check_compress_keys(selectors.compress_keys).message
    assert "ZeroDivisionError" in nb08.check_compress_keys(lambda k, c: 1 / 0).message


def _groups(k, c):
    B, T, d = k.shape
    return k[:, : T // c * c].reshape(B, T // c, c, d)  # [B, G, c, d]


def test_compress_keys_pooling_mistakes_are_named():
    named = {
        "first token of each group": lambda k, c: _groups(k, c)[:, :, 0],
        "last token of each group": lambda k, c: _groups(k, c)[:, :, -1],
        "max pooling": lambda k, c: _groups(k, c).amax(2),
        "aligned to the END": lambda k, c: k[:, k.shape[1] % c :]
        .reshape(k.shape[0], -1, c, k.shape[2])
        .mean(2),
        "not every c-th token": lambda k, c: k[:, : k.shape[1] // c * c]
        .reshape(k.shape[0], c, -1, k.shape[2])
        .mean(1),
    }
    for words, fn in named.items():
        fb = nb08.check_compress_keys(fn)
        assert not fb and words in fb.message, (words, fb)


def test_compress_keys_refuses_torch_pooling():
    F = torch.nn.functional
    for fn in (
        lambda k, c: F.avg_pool1d(k.transpose(1, 2), c).transpose(1, 2),
        lambda k, c: torch.avg_pool1d(k.transpose(1, 2), c).transpose(1, 2),
        lambda k, c: F.adaptive_avg_pool1d(
            k[:, : k.shape[1] // c * c].transpose(1, 2), k.shape[1] // c
        ).transpose(1, 2),
    ):
        fb = nb08.check_compress_keys(fn)
        assert not fb and "calls `F." in fb.message, fb


def test_compressed_saving():
    shape = flops.SMOLLM2
    L, I = 8192, 2 * shape.index_n_heads * shape.index_head_dim
    exact = I * sum((t + 1) // 4 for t in range(L))  # the notebook's rule: complete groups only
    assert exact == 4_293_918_720
    assert nb08.check_compressed_saving(exact, shape)
    assert nb08.check_compressed_saving(I * L * (L + 1) / 2 / 4, shape)  # the cost model's smooth count
    assert nb08.check_compressed_saving(None, shape).status == "unanswered"
    partial = I * sum(-(-(t + 1) // 4) for t in range(L))  # the own partial group scored too
    assert "partial group" in nb08.check_compressed_saving(partial, shape).message
    assert "token top-k" in nb08.check_compressed_saving(I * L * (L + 1) / 2, shape).message
    assert "L²" in nb08.check_compressed_saving(I * L * L / 4, shape).message
    assert "divide by c once" in nb08.check_compressed_saving(I * L * (L + 1) / 2 / 16, shape).message
    assert not nb08.check_compressed_saving(exact + 512, shape)  # one pair too many is not it
    assert not nb08.check_compressed_saving("a lot", shape)


def test_compressed_rule_is_the_librarys():
    """The exercise's count, Σ_t ⌊(t+1)/c⌋ scored groups, is what selectors.compressed_scores scores."""
    g = torch.Generator().manual_seed(0)
    for T, c in ((13, 4), (16, 4), (9, 2), (5, 1)):
        q, k, w = (
            torch.randn(1, T, 2, 3, generator=g),
            torch.randn(1, T, 3, generator=g),
            torch.randn(1, T, 2),
        )
        scores = selectors.compressed_scores(q, selectors.compress_keys(k, c), w, c, T)  # [1, T, G]
        assert (
            int(torch.isfinite(scores).sum())
            == nb08._scored_pairs(T, c)
            == sum((t + 1) // c for t in range(T))
        )


def test_computing_layers():
    # layers 0-3 agree, 4-7 agree: a second computing layer at 4 keeps everything
    ov = [[1.0 if (i < 4) == (j < 4) else 0.2 for j in range(8)] for i in range(8)]
    assert nb08.check_computing_layers([0, 4], ov, 2)
    assert nb08.check_computing_layers(None, ov, 2).status == "unanswered"
    assert "layer 0" in nb08.check_computing_layers([1, 4], ov, 2).message
    assert "exactly 2" in nb08.check_computing_layers([0, 3, 4], ov, 2).message
    assert "twice" in nb08.check_computing_layers([0, 0], ov, 2).message
    assert "less than simply" in nb08.check_computing_layers([0, 1], ov, 2).message
