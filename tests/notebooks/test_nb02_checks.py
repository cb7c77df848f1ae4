"""Notebook 02 checkers: the stub, each named mistake, the shortcuts (all fail) and the solutions (pass)."""

from dataclasses import replace

import torch

import dsa_core as dsa
from course.checks import nb02

Q, K, W = torch.tensor(nb02.HAND_Q), torch.tensor(nb02.HAND_K), torch.tensor(nb02.HAND_W)


def test_index_score_by_hand():
    dots = Q @ K  # [h]
    assert nb02.check_index_score(float((W * dots.relu()).sum()))
    assert nb02.check_index_score(None).status == "unanswered"
    named = {
        "ReLU is applied to the weighted sum": (W * dots).sum().relu(),
        "there is no ReLU": (W * dots).sum(),
        "weights w are missing": dots.relu().sum(),
        "lost their sign": (W.abs() * dots.relu()).sum(),
        "softmax over the heads": (W * dots.softmax(0)).sum(),
        "sigmoid": (W * dots.sigmoid()).sum(),
        "mean over heads": (W * dots.relu()).sum() / 3,
        "extra 1/√d": (W * dots.relu()).sum() / 3**0.5,
    }
    for words, value in named.items():
        fb = nb02.check_index_score(float(value))
        assert not fb and words in fb.message, (words, fb)
    # the copy shortcut: the notebook's own I[0, 7, 3] on its toy tensors is another number
    q, k, w = dsa.toy_indexer_inputs(B=1, T=12, h=4, d=32, seed=0)
    assert not nb02.check_index_score(float(dsa.index_scores(q, k, w)[0, 7, 3]))
    assert not nb02.check_index_score("0.5")


def solution_map(q, k, w):
    T = k.shape[1]
    per_head = torch.einsum("bthd,bsd->bths", q, k).relu()  # [B, T, h, S]
    scores = (w[..., None] * per_head).sum(2)
    return scores.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))


def test_index_function():
    assert nb02.check_index_function(solution_map)
    assert nb02.check_index_function(None).status == "unanswered"
    inf = float("-inf")

    def future(T):
        return torch.ones(T, T, dtype=torch.bool).triu(1)

    def dots(q, k):
        return torch.einsum("bthd,bsd->bths", q, k)

    named = {
        "softmax over each head's keys": lambda q, k, w: (
            w[..., None] * dots(q, k).masked_fill(future(k.shape[1])[:, None], inf).softmax(-1)
        )
        .sum(2)
        .masked_fill(future(k.shape[1]), inf),
        "ReLU is applied to the weighted sum": lambda q, k, w: (w[..., None] * dots(q, k))
        .sum(2)
        .relu()
        .masked_fill(future(k.shape[1]), inf),
        "not masked": lambda q, k, w: (w[..., None] * dots(q, k).relu()).sum(2),
        "set to 0, not −inf": lambda q, k, w: solution_map(q, k, w).nan_to_num(neginf=0.0),
        "diagonal is masked": lambda q, k, w: solution_map(q, k, w).masked_fill(
            torch.eye(k.shape[1], dtype=torch.bool), inf
        ),
        "transposed": lambda q, k, w: solution_map(q, k, w).transpose(1, 2),
        "weights w are missing": lambda q, k, w: dots(q, k)
        .relu()
        .sum(2)
        .masked_fill(future(k.shape[1]), inf),
        "lost their sign": lambda q, k, w: solution_map(q, k, w.abs()),
        "finished map went through a softmax": lambda q, k, w: solution_map(q, k, w).softmax(-1),
    }
    for words, fn in named.items():
        fb = nb02.check_index_function(fn)
        assert not fb and words in fb.message, (words, fb)
    library = nb02.check_index_function(lambda q, k, w: dsa.index_scores(q, k, w))
    assert not library and "dsa.index_scores" in library.message
    assert not nb02.check_index_function(dsa.index_scores)
    from dsa_core.fast.cpu import index_scores_fast  # the library's fast twin is the library too

    twin = nb02.check_index_function(lambda q, k, w: index_scores_fast(q, k, w))
    assert not twin and "index_scores_fast" in twin.message, twin
    q, k, w = dsa.toy_indexer_inputs(B=1, T=12, h=4, d=32, seed=0)
    printed = dsa.index_scores(q, k, w)  # the notebook's own map, copied
    assert "expected a function" in nb02.check_index_function(printed).message
    assert "shape" in nb02.check_index_function(lambda q, k, w: printed).message


def solution_params(cfg):
    q_in = cfg.q_lora_rank or cfg.dim  # no query latent: wq_b reads x
    h, d = cfg.index_n_heads, cfg.index_head_dim
    return q_in * h * d + cfg.dim * d + cfg.dim * h + 2 * d


def test_params_function():
    assert solution_params(dsa.V32_671B) == 13_959_424
    assert nb02.check_params_function(solution_params)
    assert nb02.check_params_function(None).status == "unanswered"
    named = {
        "k_norm is missing": lambda c: solution_params(c) - 2 * c.index_head_dim,
        "not d": lambda c: solution_params(c) - c.index_head_dim,
        "weights_proj": lambda c: solution_params(c) - c.dim * c.index_n_heads,
        "shared by all h": lambda c: solution_params(c) + c.dim * c.index_head_dim * (c.index_n_heads - 1),
        "query latent qr": lambda c: solution_params(replace(c, q_lora_rank=0)),
    }
    for words, fn in named.items():
        fb = nb02.check_params_function(fn)
        assert not fb and words in fb.message, (words, fb)
    no_latent = nb02.check_params_function(lambda c: solution_params(c) - (not c.q_lora_rank) * c.dim * 8192)
    assert not no_latent
    library = nb02.check_params_function(
        lambda c: sum(p.numel() for p in dsa.LightningIndexer(c).parameters())
    )
    assert not library and "LightningIndexer" in library.message
    assert not nb02.check_params_function(lambda c: 13_959_424)  # the 671B number, copied
    assert not any(n == "indexer_params" for n in dir(nb02))  # no public answer helper


def test_prefill_ratio():
    assert nb02.check_prefill_ratio(128 * 320 / 8192)
    assert nb02.check_prefill_ratio(None).status == "unanswered"
    assert "upside down" in nb02.check_prefill_ratio(8192 / (128 * 320)).message
    assert "MQA mode" in nb02.check_prefill_ratio(128 * 1088 / 8192).message  # the 17 printed elsewhere
    assert "only q·k" in nb02.check_prefill_ratio(128 * 192 / 8192).message
    assert not nb02.check_prefill_ratio(3.14)
