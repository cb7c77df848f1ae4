"""dsa_core.analysis.ranked: every shortcut gives exactly what the dsa_core function it replaces gives."""

import numpy as np
import pytest
import torch

from dsa_core.analysis import ranked, views
from dsa_core.metrics import oracle_topk, random_topk, topk_overlap, window_topk
from dsa_core.topk import select_topk
from dsa_core.viz import prepare_map


def _scores(T, seed=0, ties=True):
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(T, T, generator=g)
    if ties:  # ReLU-style zeros and rounded values: many exact ties, as real index scores have
        s = torch.relu(s).mul(4).round()
    return s.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))


@pytest.mark.parametrize("T,ties", [(1, True), (37, True), (300, True), (300, False)])
def test_take_equals_select_topk_for_every_k(T, ties):
    s = _scores(T, ties=ties)
    m = ranked.bucket(40, T, floor=64)
    r = ranked.ranked_topk(s, m, chunk=64)  # row blocks smaller than T
    assert r.dtype == torch.int32 and r.shape == (T, min(m, T))
    for k in sorted({1, 2, 5, 16, 40, min(m, T), T}):
        if k <= r.shape[1]:
            assert torch.equal(ranked.take(r, k), select_topk(s[None], k)[0]), k
    if T < m:  # k > T pads with -1, as select_topk does
        assert torch.equal(ranked.take(r, T + 3), select_topk(s[None], T + 3)[0])
    elif m < T:
        with pytest.raises(ValueError):
            ranked.take(r, m + 1)


def test_bucket_doubles_and_is_capped():
    assert ranked.bucket(64, 8192) == 512 and ranked.bucket(512, 8192) == 512
    assert ranked.bucket(513, 8192) == 1024 and ranked.bucket(5000, 8192) == 8192
    assert ranked.bucket(64, 100) == 100 and all(ranked.bucket(k, 999) >= k for k in range(1, 999, 7))


def test_oracle_and_random_prefixes_equal_the_metrics_baselines():
    T = 150
    p = torch.softmax(_scores(T, 1, ties=False), -1)
    p[5:9, :3] = 0.0  # exact zeros: ties among visible keys
    ro, rr = ranked.ranked_oracle(p, 64), ranked.ranked_random(T, 64, seed=3)
    for k in (1, 7, 64):
        assert torch.equal(ranked.take(ro, k), oracle_topk(p, k))
        assert torch.equal(ranked.take(rr, k), random_topk(T, k, seed=3))


def test_overlap_rows_equals_topk_overlap():
    T = 120
    a = select_topk(_scores(T, 2)[None], 20)[0]
    b = select_topk(_scores(T, 3, ties=False)[None], 20)[0]
    for x, y in ((a, b), (a, a), (a, window_topk(T, 20)), (window_topk(T, 20), b)):
        assert np.allclose(ranked.overlap_rows(x, y), topk_overlap(x, y).numpy())


@pytest.mark.parametrize("T,side", [(50, 192), (1000, 192), (513, 100)])
def test_pool_picks_equals_prepare_map_of_the_scattered_map(T, side):
    idx = select_topk(_scores(T, 4)[None], 24)[0].numpy()
    vals = np.random.default_rng(0).random(idx.shape).astype(np.float32)
    vals[:, -1] = 0.0  # exact zeros among the picked values
    for values in (1.0, vals):
        full = views.scatter_rows(values, idx, T)
        for how in ("max", "mean"):
            want, got = prepare_map(full, side, how), ranked.pool_picks(idx, values, T, side, how)
            assert np.allclose(got["z"], want["z"], equal_nan=True, atol=1e-6), (how, T)
            assert np.array_equal(got["rows"], want["rows"]) and got["note"] == want["note"]
        for zoom in ((0, 40), (T - 10, 40), (T // 2, 30)):
            want, got = (
                prepare_map(full, side, "max", zoom),
                ranked.pool_picks(idx, values, T, side, "max", zoom),
            )
            assert np.array_equal(got["z"], want["z"], equal_nan=True) and got["note"] == want["note"]
            assert np.array_equal(got["cols"], want["cols"])


def test_pick_maps_equal_the_pooled_full_maps():
    """The app's maps (k-dependent ones pooled from the picks) match pooling view_maps' [T,T] arrays."""
    T, H = 400, 3

    class Rec:
        tokens = [str(i) for i in range(T)]
        index_scores = _scores(T, 5)
        dense_probs = torch.softmax(_scores(T, 6, ties=False)[None].expand(H, T, T) * torch.rand(H, 1, 1), -1)
        dense_mean = dense_probs.mean(0)

    ranks = {name: ranked.rank(Rec, name, 64, head=1) for name in ("DSA indexer", "ideal top-k", "random")}
    v = views.layer_view(Rec, 32, head=1, picks=ranked.picks_from(ranks, T, 32))
    ref = views.layer_view(Rec, 32, head=1)  # select_topk / oracle_topk / random_topk
    assert np.array_equal(v.topk, ref.topk) and np.array_equal(v.oracle, ref.oracle)
    assert all(np.array_equal(v.recall[n], ref.recall[n]) for n in ref.recall)
    assert np.array_equal(v.overlap, ref.overlap)
    full = views.view_maps(v)
    for how, zoom in (("max", None), ("mean", None), ("max", (100, 192))):
        got = ranked.pick_maps(v, ranked.base_maps(Rec, 1, how, zoom), how, zoom)
        for kind, z in full.items():
            want = prepare_map(z, 192, "mean" if kind == "diff" else how, zoom)
            assert np.allclose(got[kind]["z"], want["z"], equal_nan=True, atol=1e-6), (kind, how, zoom)


def test_output_change_with_cached_values_equals_the_plain_call():
    from dsa_core.host.model import ModelConfig, Transformer

    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=50, dim=32, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=8, hidden_dim=64)
    model, T = Transformer(cfg).eval(), 40

    class Rec:
        layer, x = 1, torch.randn(T, cfg.dim)
        q, k = torch.randn(T, 4, 8), torch.randn(T, 2, 8)

    idx = select_topk(_scores(T, 7)[None], 6)[0]
    v = views.layer_values(model, Rec)
    for s0, s1 in ((30, 40), (12, 13)):
        want = views.output_change(model, Rec, idx, s0, s1)
        got = views.output_change(model, Rec, idx, s0, s1, v, views.dense_output(model, Rec, s0, s1, v))
        assert np.allclose(got, want, atol=1e-6) and np.allclose(
            views.output_change(model, Rec, idx, s0, s1, v), want
        )


def test_rank_heads_equals_each_heads_own_ranking():
    from types import SimpleNamespace

    T, H = 40, 3
    probs = torch.softmax(torch.stack([_scores(T, s, ties=False) for s in range(H)]), -1)  # [H, T, T]
    rec = SimpleNamespace(dense_probs=probs)
    heads = ranked.rank_heads(rec, 16)
    assert heads.shape == (H, T, 16)
    for h in range(H):
        assert torch.equal(ranked.take(heads[h], 5), oracle_topk(probs[h], 5))
    assert ranked.rank_heads(SimpleNamespace(dense_probs=None), 16) is None
