"""The DSA family in the host model (family/in_model.py) and its report (family/measure.py), on a tiny
random model: degenerate members run exactly like DSA, sharing reuses the right layer's picks, and the
report has sane values."""

import json

import pytest
import torch

from dsa_core.family import cli
from dsa_core.family import measure as tv
from dsa_core.family.in_model import Member, layer_picks, member_pick, member_select, parse
from dsa_core.host.logprobs import next_token_logprobs
from dsa_core.host.model import attach_indexers
from dsa_core.host.selects import dsa_select
from dsa_core.pipeline import select
from dsa_core.train.stage1 import make_indexers


@pytest.fixture
def model(tiny_model, tiny_cfg):
    return attach_indexers(tiny_model, list(make_indexers(tiny_cfg, range(2)).values()))


IDS = torch.randint(0, 64, (1, 40), generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize(
    "v",
    [Member("block", block=1, local=False), Member("compressed", compress=1), Member("shared", every=1)],
)
def test_degenerate_members_run_exactly_like_dsa(model, v):
    want = next_token_logprobs(model, IDS, dsa_select(6))[0]
    assert torch.equal(next_token_logprobs(model, IDS, member_select(v, 6))[0], want)


def test_shared_layers_attend_with_the_computing_layers_picks(model):
    seen, shared = [], member_select(Member("shared", computing=(0,)), 6)

    def record(attn, x, q, k):
        out = shared(attn, x, q, k)
        seen.append(out)
        return out

    model(IDS, select=record)
    assert seen[1] is seen[0]  # layer 1 reuses layer 0's selection object, no second indexer run


def test_layer_picks_chunking_does_not_change_the_picks(model):
    x = torch.randn(1, 40, 32)
    ind = model.layers[0].self_attn.indexer
    for v in (Member("token"), Member("block", block=4), Member("compressed")):
        assert torch.equal(
            layer_picks(ind, x, v, 8),
            select(ind, x, member_pick(v, 8, x.shape[1])[1], member_pick(v, 8, x.shape[1])[0], rows=9)[0],
        )


def test_parse_names_an_unknown_member():
    assert parse("block", block=8).block == 8
    with pytest.raises(ValueError, match="unknown member 'nsa'"):
        parse("nsa")


def test_report_has_sane_numbers(model, tmp_path, as_loaded):
    text = tmp_path / "a.txt"
    text.write_text("the quick brown fox jumps over the lazy dog " * 2)
    loaded = as_loaded(model)
    members = {n: Member(n) for n in ("token", "block", "compressed", "shared")}
    members["block"] = Member("block", block=2)
    rep = json.loads(json.dumps(tv.report(loaded, [text], 8, 64, members)))
    token = rep["members"]["token"]
    assert token["recall"] == rep["token_recall"]
    for v in rep["members"].values():
        assert len(v["recall"]) == 2 and v["perplexity"] > 1
        assert all(0 <= r <= i + 1e-6 for r, i in zip(v["recall"], rep["ideal_recall"]))
    assert rep["members"]["shared"]["recall"][0] == token["recall"][0]  # layer 0 computes
    f = {n: v["indexer_flops_per_token"] for n, v in rep["members"].items()}
    assert f["block"] == f["token"] and abs(f["compressed"] - f["token"] / 4) < 1e-6 * f["token"]
    assert abs(f["shared"] - f["token"] / 2) < 1e-6 * f["token"]  # 1 of 2 layers computes
    assert "compressed keys (c = 4)" in cli.table(rep)


def test_recall_in_some_layers_only(model, tmp_path, as_loaded):
    text = tmp_path / "a.txt"
    text.write_text("the quick brown fox jumps over the lazy dog " * 2)
    loaded = as_loaded(model)
    members = {"token": Member("token"), "shared": Member("shared", every=2)}
    full = tv.report(loaded, [text], 8, 64, members)
    some = tv.report(loaded, [text], 8, 64, members, recall_layers={1})
    assert some["ideal_recall"][0] is None and some["ideal_recall"][1] == full["ideal_recall"][1]
    assert some["members"]["shared"]["mean_recall"] == full["members"]["shared"]["recall"][1]
    assert some["members"]["shared"]["perplexity"] == full["members"]["shared"]["perplexity"]
    assert "    -" in cli.table(some)
