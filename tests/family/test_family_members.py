"""The members as designed (selectors.py, in_model.py, train.py, cost.py): window and sink, two-level
selection, MSA's one-head score, the training targets, the cost of each, the presets and the figure.
Each reduces to a known member in its degenerate case, never looks into the future and keeps its budget."""

import ast
import pathlib

import pytest
import torch

from dsa_core.config import SMOLLM2_HOST
from dsa_core.cost import flops
from dsa_core.family import cost, figures, presets, selectors
from dsa_core.family import train as family_train
from dsa_core.family.in_model import Member, layer_picks, member_select
from dsa_core.host.logprobs import next_token_logprobs
from dsa_core.host.model import attach_indexers
from dsa_core.host.selects import dsa_select
from dsa_core.indexer import index_scores
from dsa_core.pipeline import select_keys
from dsa_core.train.losses import dense_warmup_loss
from dsa_core.train.stage1 import layer_inputs, main_qk, make_indexers

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _inputs(B=1, T=61, h=4, d=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(B, T, h, d, generator=g),
        torch.randn(B, T, d, generator=g),
        torch.randn(B, T, h, generator=g),
    )


def _causal_distinct(idx):
    S = idx.shape[1]
    pos = torch.arange(S)[None, :, None]
    assert (idx <= pos).all() and (idx >= -1).all()
    real = idx >= 0
    assert (real[..., :-1] | ~real[..., 1:]).all(), "-1 slots must come last"
    s = idx.sort(-1).values
    assert not ((s[..., 1:] == s[..., :-1]) & (s[..., 1:] >= 0)).any(), "a position picked twice"


def test_window_pick_keeps_window_and_sink_and_fills_the_budget_between():
    q, k, w = _inputs()
    c, kk, window, sink = 4, 24, 6, 2
    out = select_keys(q, k, w, selectors.window_pick(c, kk, window, sink), selectors.compressed_score(c))
    assert out.shape == (1, 61, sink + window + (kk - window - sink) // c * c)
    _causal_distinct(out)
    for t in (3, 30, 60):
        got = {int(x) for x in out[0, t] if x >= 0}
        assert set(range(max(0, t - window + 1), t + 1)) | set(range(min(sink, t + 1))) <= got
        chosen = got - set(range(t - window + 1, t + 1)) - set(range(sink))
        assert all(p >= sink and (p // c) * c + c <= t + 1 - window for p in chosen)  # whole groups between
    assert (out[0, 60] >= 0).all()  # a long row uses the whole budget


def test_window_pick_without_window_and_sink_is_compressed_top_groups():
    q, k, w = _inputs()
    got = select_keys(q, k, w, selectors.window_pick(4, 12, 0, 0), selectors.compressed_score(4))
    scores = selectors.compressed_scores(q, selectors.compress_keys(k, 4), w, 4, 61)  # [1,61,G]
    want = selectors.expand_groups(torch.topk(scores[:, -1:], 3).indices, 4, 61)[0, 0]  # the last query
    assert sorted(got[0, -1].tolist()) == sorted(want.tolist())


@pytest.mark.parametrize("b", [4, 8])
def test_two_level_with_every_block_kept_is_token_topk(b, tiny_model, tiny_cfg):
    model = attach_indexers(tiny_model, list(make_indexers(tiny_cfg, range(2)).values()))
    x = torch.randn(1, 40, 32)
    ind = model.layers[0].self_attn.indexer
    every = Member("two-level", block=b, blocks=40 // b + 1)  # the candidates hold every key
    assert torch.equal(layer_picks(ind, x, every, 8), layer_picks(ind, x, Member("token"), 8))
    few = layer_picks(ind, x, Member("two-level", block=b, blocks=1), 8)  # own block + 1 other
    _causal_distinct(few)
    blocks = torch.where(few >= 0, few // b, -1)
    assert all(len({int(j) for j in blocks[0, t] if j >= 0}) <= 2 for t in range(40))


def test_v41_candidates_with_every_layer_a_source_run_like_dsa(tiny_model, tiny_cfg):
    model = attach_indexers(tiny_model, list(make_indexers(tiny_cfg, range(2)).values()))
    ids = torch.randint(0, 64, (1, 40), generator=torch.Generator().manual_seed(1))
    want = next_token_logprobs(model, ids, dsa_select(6))[0]
    v = Member("two-level", block=4, blocks=2, sources=True, every=1)
    assert torch.equal(next_token_logprobs(model, ids, member_select(v, 6))[0], want)
    consumer = member_select(Member("two-level", block=4, blocks=2, sources=True, every=2), 6)
    assert torch.isfinite(next_token_logprobs(model, ids, consumer)[0]).all()  # layer 1 picks inside


def test_dot_scores_is_the_scaled_dot_product_of_one_head():
    q, k, w = _inputs(h=1)
    got = selectors.dot_scores(q, k, w)
    want = torch.einsum("bsd,btd->bst", q[:, :, 0], k) / 4  # √16
    future = torch.ones(61, 61).triu(1).bool()
    assert (
        torch.allclose(got[0][~future], want[0][~future], atol=1e-5)
        and (got[0][future] == float("-inf")).all()
    )


def test_block_target_leaves_out_the_own_block_and_sums_to_one():
    p = torch.softmax(torch.randn(1, 3, 12), -1)
    t = family_train.block_target(p, 4)  # queries at 9, 10, 11: own block 2
    assert t.shape == (1, 3, 3) and (t[..., 2] == 0).all() and torch.allclose(t.sum(-1), torch.ones(1, 3))


def test_pooled_target_with_window_and_sink_keeps_only_the_groups_between():
    p = torch.softmax(torch.randn(1, 2, 16), -1)
    t = family_train.pooled_target(p, 2, window=4, sink=2)  # query 15: groups 1..5 (tokens 2..11)
    assert (t[0, 1, 0] == 0) and (t[0, 1, 6:] == 0).all() and (t[0, 1, 1:6] > 0).all()
    assert torch.allclose(family_train.pooled_target(p, 2), family_train.pooled_target(p, 2, 0, 0))


def test_shared_step_serving_only_itself_is_the_stage1_loss(tiny_model, tiny_cfg):
    ind = make_indexers(tiny_cfg, [1])[1]
    x = layer_inputs(tiny_model, torch.randint(0, 64, (1, 30)), [1])
    got = family_train.shared_step(tiny_model, [1], ind, {1: x[1]}, 16)
    q, k = main_qk(tiny_model, 1, x[1])
    qi, ki, w = ind.project(x[1])
    from dsa_core.dense import attention_probs

    want = dense_warmup_loss(index_scores(qi[:, 14:], ki, w[:, 14:]), attention_probs(q[:, 14:], k))
    assert torch.allclose(got, want, atol=1e-6)


def test_one_head_copy_keeps_the_key_projection():
    ind = make_indexers(SMOLLM2_HOST, [0])[0]
    one = family_train.one_head(ind, SMOLLM2_HOST)
    assert one.n_heads == 1 and torch.equal(one.wk.weight, ind.wk.weight)
    assert any(torch.equal(one.wq_b.weight, ind.wq_b.weight[j * 64 : (j + 1) * 64]) for j in range(4))


def test_member_cost_of_the_new_members():
    s, L = flops.SMOLLM2, 8192
    base = cost.member_cost(s, L)["indexer/qk_macs"]
    hisa = cost.member_cost(s, L, "two-level", b=64, m=31)["indexer/qk_macs"] / base
    direct = (sum(min(t + 1, 32 * 64) for t in range(L)) + L * (L + 1) / 2 / 64) / (L * (L + 1) / 2)
    assert abs(hisa - direct) < 1e-9 and hisa < 0.5
    v41 = cost.member_cost(s, L, "two-level", b=8, m=511, share=0.25)["indexer/qk_macs"] / base
    assert abs(v41 - (0.25 + 0.75 * cost.candidate_pairs(L, 8, 511) / (L * (L + 1) / 2))) < 1e-9
    assert cost.member_cost(s, L, "block", b=8, heads=0.25)["indexer/qk_macs"] / base == 0.25
    assert cost.member_cost(s, L, "compressed", c=4)["indexer/qk_macs"] / base == 0.25


def test_presets_state_both_scales_and_name_their_sources():
    slugs = [p.slug for p in presets.PRESETS]
    assert len(set(slugs)) == len(slugs)
    for p in presets.PRESETS:
        assert p.theirs and p.ours and p.sources
        if p.member is not None and p.member.name != "shared":
            assert p.member.label(presets.K)
    assert {"msa", "hisa", "v4-csa", "indexcache-trained"} <= set(presets.runnable()) | {
        p.slug for p in presets.PRESETS if p.member and p.member.weights
    }


def test_frontier_and_the_figure_take_plain_numbers():
    assert figures.frontier([1, 2, 3, 4], [5, 3, 4, 1], higher_is_better=False) == [0, 1, 3]
    fig = figures.pareto([{"name": "a", "flops": 6e7, "perplexity": 12.9, "recall": 0.98}])
    assert len(fig.data) == 4
    tree = ast.parse((ROOT / "dsa_core" / "family" / "figures.py").read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "torch" not in imported, "figures take arrays and never import torch"
