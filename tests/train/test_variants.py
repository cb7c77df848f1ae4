"""The DSA family in the host model (host/variants.py) and its report (train/variants.py), on a tiny
random model: degenerate members run exactly like DSA, sharing reuses the right layer's picks, and the
report has sane values."""

import json

import pytest
import torch

from dsa_core.host.logprobs import next_token_logprobs
from dsa_core.host.model import attach_indexers
from dsa_core.host.selects import dsa_select
from dsa_core.host.variants import Variant, layer_picks, member_pick, parse, variant_select
from dsa_core.pipeline import select
from dsa_core.train import variants as tv
from dsa_core.train import variants_cli as cli
from dsa_core.train.stage1 import make_indexers


@pytest.fixture
def model(tiny_model, tiny_cfg):
    return attach_indexers(tiny_model, list(make_indexers(tiny_cfg, range(2)).values()))


IDS = torch.randint(0, 64, (1, 40), generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize(
    "v",
    [Variant("block", block=1, local=False), Variant("compressed", compress=1), Variant("shared", every=1)],
)
def test_degenerate_members_run_exactly_like_dsa(model, v):
    want = next_token_logprobs(model, IDS, dsa_select(6))[0]
    assert torch.equal(next_token_logprobs(model, IDS, variant_select(v, 6))[0], want)


def test_shared_layers_attend_with_the_computing_layers_picks(model):
    seen, shared = [], variant_select(Variant("shared", computing=(0,)), 6)

    def record(attn, x, q, k):
        out = shared(attn, x, q, k)
        seen.append(out)
        return out

    model(IDS, select=record)
    assert seen[1] is seen[0]  # layer 1 reuses layer 0's selection object, no second indexer run


def test_layer_picks_chunking_does_not_change_the_picks(model):
    x = torch.randn(1, 40, 32)
    ind = model.layers[0].self_attn.indexer
    for v in (Variant("token"), Variant("block", block=4), Variant("compressed")):
        assert torch.equal(
            layer_picks(ind, x, v, 8),
            select(ind, x, member_pick(v, 8, x.shape[1])[1], member_pick(v, 8, x.shape[1])[0], rows=9)[0],
        )


def test_parse_names_an_unknown_variant():
    assert parse("block", block=8).block == 8
    with pytest.raises(ValueError, match="unknown variant 'nsa'"):
        parse("nsa")


def test_report_has_sane_numbers(model, tmp_path, as_loaded):
    text = tmp_path / "a.txt"
    text.write_text("the quick brown fox jumps over the lazy dog " * 2)
    loaded = as_loaded(model)
    vs = {n: Variant(n) for n in ("token", "block", "compressed", "shared")}
    vs["block"] = Variant("block", block=2)
    rep = json.loads(json.dumps(tv.report(loaded, [text], 8, 64, vs)))
    token = rep["variants"]["token"]
    assert token["recall"] == rep["token_recall"]
    for v in rep["variants"].values():
        assert len(v["recall"]) == 2 and v["perplexity"] > 1
        assert all(0 <= r <= i + 1e-6 for r, i in zip(v["recall"], rep["ideal_recall"]))
    assert rep["variants"]["shared"]["recall"][0] == token["recall"][0]  # layer 0 computes
    f = {n: v["indexer_flops_per_token"] for n, v in rep["variants"].items()}
    assert f["block"] == f["token"] and abs(f["compressed"] - f["token"] / 4) < 1e-6 * f["token"]
    assert abs(f["shared"] - f["token"] / 2) < 1e-6 * f["token"]  # 1 of 2 layers computes
    assert "compressed keys (c = 4)" in cli.table(rep)


def test_recall_in_some_layers_only(model, tmp_path, as_loaded):
    text = tmp_path / "a.txt"
    text.write_text("the quick brown fox jumps over the lazy dog " * 2)
    loaded = as_loaded(model)
    vs = {"token": Variant("token"), "shared": Variant("shared", every=2)}
    full = tv.report(loaded, [text], 8, 64, vs)
    some = tv.report(loaded, [text], 8, 64, vs, recall_layers={1})
    assert some["ideal_recall"][0] is None and some["ideal_recall"][1] == full["ideal_recall"][1]
    assert some["variants"]["shared"]["mean_recall"] == full["variants"]["shared"]["recall"][1]
    assert some["variants"]["shared"]["perplexity"] == full["variants"]["shared"]["perplexity"]
    assert "    -" in cli.table(some)
