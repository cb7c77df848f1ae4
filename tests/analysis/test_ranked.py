"""What the app draws equals what the reference functions give: the rankings sliced at any k, the
row-block twins (dsa_core/fast/rows.py), the pooled maps and the per-k view numbers."""

import numpy as np
import pytest
import torch

from dsa_core.analysis import effects, maps, numbers, rank
from dsa_core.dense import attention_probs
from dsa_core.fast import rows
from dsa_core.metrics import attention_recall, oracle_topk, random_topk, topk_overlap, window_topk
from dsa_core.sparse import sparse_attention_probs
from dsa_core.topk import select_topk
from dsa_core.viz import prepare_map


def _scores(T, seed=0, ties=True):
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(T, T, generator=g)
    if ties:  # ReLU-style zeros and rounded values: many exact ties, as real index scores have
        s = torch.relu(s).mul(4).round()
    return s.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))


@pytest.mark.parametrize("T,ties", [(1, True), (37, True), (300, True), (300, False)])
def test_a_full_ranking_sliced_at_k_is_select_topk_at_k(T, ties):
    s = _scores(T, ties=ties)
    r = rank.rank_scores(s, rows=64)  # row blocks smaller than T
    assert r.dtype == torch.int16 and r.shape == (T, T)
    for k in sorted(k for k in {1, 2, 5, 16, 40, T} if k <= T):  # the app clamps k to [1, T]
        assert torch.equal(rank.picks(r, k).long(), select_topk(s[None], k)[0]), k


@pytest.mark.parametrize("depth", [1, 16, 100, 299, 400])
def test_rankings_kept_to_a_depth_are_the_first_columns_of_the_full_ones(depth):
    T = 300
    s, p = _scores(T, 7), torch.softmax(_scores(T, 8, ties=False), -1)
    p[5:9, :3] = 0.0
    pairs = [
        (rank.rank_scores(s, rows=64, depth=depth), rank.rank_scores(s, rows=64)),
        (rank.rank_oracle(p, rows=64, depth=depth), rank.rank_oracle(p, rows=64)),
        (rank.rank_random(T, 3, rows=40, depth=depth), rank.rank_random(T, 3, rows=40)),
    ]
    for part, full in pairs:
        assert part.shape == (T, min(depth, T)) and part.dtype == full.dtype
        assert torch.equal(part, full[:, : min(depth, T)])


def test_oracle_and_random_rankings_equal_the_metrics_baselines():
    T = 150
    p = torch.softmax(_scores(T, 1, ties=False), -1)
    p[5:9, :3] = 0.0  # exact zeros: ties among visible keys
    ro, rr = rank.rank_oracle(p, rows=64), rank.rank_random(T, seed=3, rows=40)
    for k in (1, 7, 64, T):
        assert torch.equal(rank.picks(ro, k).long(), oracle_topk(p, k))
        assert torch.equal(rank.picks(rr, k).long(), random_topk(T, k, seed=3))


@pytest.mark.parametrize("T,k,n", [(1, 1, 4), (50, 3, 4), (50, 50, 4), (300, 37, 0), (300, 7, 9)])
def test_window_rows_equal_window_topk(T, k, n):
    full = window_topk(T, k, n)
    for s0, s1 in ((0, T), (0, 1), (T // 3, T // 2 + 1), (T - 1, T)):
        assert torch.equal(rows.window_rows(T, k, s0, s1, n), full[s0:s1]), (s0, s1)


@pytest.mark.parametrize("T,k", [(1, 1), (50, 8), (300, 40), (300, 300)])
def test_overlap_rows_equals_topk_overlap(T, k):
    a = rank.picks(rank.rank_scores(_scores(T, 4)), k).long()
    b = rank.picks(rank.rank_scores(_scores(T, 5, ties=False)), k).long()
    for x, y in ((a, b), (b, a), (a, a)):
        assert torch.equal(rows.overlap_rows(x, y), topk_overlap(x, y).float())


def test_sparse_probs_via_dense_equals_sparse_attention_probs():
    torch.manual_seed(0)
    T, H, D = 40, 4, 8
    q, k = torch.randn(1, T, H, D) * 3, torch.randn(1, T, 2, D)
    idx = select_topk(_scores(T, 2)[None], 9)
    idx[0, 20, 3] = -1  # an empty slot among real ones
    idx[0, 30, :] = -1  # a query with nothing selected
    for s0, s1 in ((0, T), (25, 31)):  # a block of queries aligned to the end of keys 0..s1-1
        args = (q[:, s0:s1], k[:, :s1], idx[:, s0:s1])
        assert torch.allclose(rows.sparse_probs_via_dense(*args), sparse_attention_probs(*args), atol=1e-6)


class _Rec:
    """A LayerTrace stand-in: q and k, per-head dense attention computed from them, index scores."""

    def __init__(self, T=400, H=3, per_head=True):
        torch.manual_seed(1)
        self.tokens = [str(i) for i in range(T)]
        self.q, self.k = torch.randn(T, H, 8) * 2, torch.randn(T, 1, 8)
        probs = attention_probs(self.q[None], self.k[None])[0]  # [H,T,T]
        self.dense_probs = probs if per_head else None
        self.dense_mean = probs.mean(0)
        self.index_scores = _scores(T, 5)


@pytest.mark.parametrize("head", [None, 1])
def test_layer_view_numbers_equal_the_reference_metrics(head):
    rec, k = _Rec(), 32
    T = len(rec.tokens)
    dense = rec.dense_mean if head is None else rec.dense_probs[head]
    v = numbers.layer_view(rec, k, head)
    picks = select_topk(rec.index_scores[None], k)[0]
    ideal = oracle_topk(dense, k)
    assert np.array_equal(v.topk, picks.numpy()) and np.array_equal(v.oracle, ideal.numpy())
    want = {
        "DSA indexer": picks,
        "ideal top-k": ideal,
        numbers.WINDOW: window_topk(T, k, numbers.N_SINKS),
        "random": random_topk(T, k),
    }
    for name, idx in want.items():
        assert np.array_equal(v.recall[name], attention_recall(dense, idx).numpy()), name
    assert np.array_equal(v.overlap, topk_overlap(picks, ideal).numpy())
    assert np.array_equal(v.counts, np.bincount(picks[picks >= 0].numpy(), minlength=T))
    ref = sparse_attention_probs(rec.q[None], rec.k[None], picks[None])[0]  # [T,H,K]
    assert np.allclose(v.sparse, (ref.mean(1) if head is None else ref[:, head]).numpy(), atol=1e-6)


@pytest.mark.parametrize("T,side", [(50, 192), (1000, 192), (513, 100)])
def test_pool_picks_in_row_blocks_equals_prepare_map_of_the_scattered_map(T, side):
    idx = select_topk(_scores(T, 4)[None], 24)[0].numpy()
    vals = np.random.default_rng(0).random(idx.shape).astype(np.float32)
    vals[:, -1] = 0.0  # exact zeros among the picked values
    b = -(-T // side)
    for values in (1.0, vals):
        full = maps.scatter_rows(values, idx, T)
        for how in ("max", "mean"):
            want = prepare_map(full, side, how)
            cut = min(T, 3 * b)  # two row blocks that each cover whole pooling blocks
            parts = [
                maps.pool_picks(
                    idx[a:c], values if np.ndim(values) == 0 else values[a:c], T, side, how, row0=a
                )
                for a, c in ((0, cut), (cut, T))
                if c > a
            ]
            z = np.concatenate([p["z"] for p in parts])
            assert np.allclose(z, want["z"], equal_nan=True, atol=1e-6), (how, T)
            assert np.array_equal(parts[0]["rows"], want["rows"]) and parts[0]["note"] == want["note"]
        for zoom in ((0, 40), (T - 10, 40), (T // 2, 30)):
            want, got = (
                prepare_map(full, side, "max", zoom),
                maps.pool_picks(idx, values, T, side, "max", zoom),
            )
            assert np.array_equal(got["z"], want["z"], equal_nan=True) and got["note"] == want["note"]
            assert np.array_equal(got["cols"], want["cols"])


@pytest.mark.parametrize("k", [8, 200])  # the gathered reference (k <= T / 48), then its fast twin
def test_pick_maps_equal_the_pooled_full_maps(k):
    """The app's maps (k-dependent ones pooled block by block from the picks) match pooling
    view_maps' [T,T] arrays."""
    rec = _Rec()
    v = numbers.layer_view(rec, k, head=1)
    full = maps.view_maps(v)
    for how, zoom in (("max", None), ("mean", None), ("max", (100, 192))):
        got = maps.pick_maps(rec, v, maps.base_maps(rec, 1, how, zoom), how, zoom)
        for kind, z in full.items():
            want = prepare_map(z, 192, "mean" if kind == "diff" else how, zoom)
            assert np.allclose(got[kind]["z"], want["z"], equal_nan=True, atol=1e-6), (kind, how, zoom)


def _tiny_model():
    from dsa_core.host.model import ModelConfig, Transformer

    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=50, dim=32, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=8, hidden_dim=64)
    return Transformer(cfg).eval(), cfg


def test_output_change_with_cached_values_equals_the_plain_call():
    model, cfg = _tiny_model()
    T = 40

    class Rec:
        layer, x = 1, torch.randn(T, cfg.dim)
        q, k = torch.randn(T, 4, 8), torch.randn(T, 2, 8)

    idx = select_topk(_scores(T, 7)[None], 6)[0]
    v = effects.layer_values(model, Rec)
    for s0, s1 in ((30, 40), (12, 13)):
        want = effects.output_change(model, Rec, idx, s0, s1)
        got = effects.output_change(model, Rec, idx, s0, s1, v, effects.dense_output(model, Rec, s0, s1, v))
        assert np.allclose(got, want, atol=1e-6) and np.allclose(
            effects.output_change(model, Rec, idx, s0, s1, v), want
        )


def test_next_token_effect_in_row_blocks_equals_the_whole_text_at_once():
    from dsa_core.host.selects import window_select

    model, _ = _tiny_model()
    ids = torch.randint(0, 50, (30,))
    seen = []
    report = lambda f, m: seen.append(f)  # noqa: E731
    e = effects.next_token_effect(model, ids, 5, window_select(5), progress=report, rows=7)
    with torch.no_grad():
        d = torch.log_softmax(model(ids[None])[0], -1)  # [T,V]
        s = torch.log_softmax(model(ids[None], select=window_select(5))[0], -1)
    assert np.allclose(e["kl"], (d.exp() * (d - s)).sum(-1).numpy(), atol=1e-5)
    assert np.array_equal(e["top1_changed"], (d.argmax(-1) != s.argmax(-1)).numpy())
    ppl = float(torch.exp(-d[:-1].gather(-1, ids[1:, None]).mean()))
    assert np.isclose(e["perplexity"]["dense"], ppl, rtol=1e-5)
    assert len(seen) == 2 * len(model.layers) and seen[-1] == 1.0  # every layer of both runs


def test_a_progress_callback_that_raises_stops_the_model_run():
    from dsa_core.analysis.trace import layer_progress

    model, _ = _tiny_model()

    def stop(layer):
        raise KeyboardInterrupt(layer)

    with pytest.raises(KeyboardInterrupt), layer_progress(model, stop):
        model(torch.randint(0, 50, (1, 8)))
    model(torch.randint(0, 50, (1, 8)))  # outside the block: no report, no stop
