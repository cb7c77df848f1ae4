"""The indexers trained for pooled keys (assets/indexers/smollm2_compressed_c4.safetensors) on the real
model: the file fits the host like the shipped one, on held-out text the compressed member's recall with
them beats its recall with the token-trained shipped indexers, and the command names them."""

import json
import pathlib

import pytest
import torch

from dsa_core.analysis.trace import encode
from dsa_core.family.cli import main
from dsa_core.family.in_model import Member, layer_picks, member_indexer
from dsa_core.family.train import compressed_recall
from dsa_core.host.indexers import (
    COMPRESSED_C,
    COMPRESSED_PATH,
    DEFAULT_PATH,
    SHAPE_FIELDS,
    load_default_indexers,
    load_indexers,
)
from dsa_core.train.stage1 import layer_inputs

ROOT = pathlib.Path(__file__).resolve().parents[2]
HELD_OUT = ROOT / "assets" / "texts" / "eval" / "long_python_ftplib.txt"  # never trained on (data_check_*)
LAYERS = (3, 12, 21)


@pytest.fixture(scope="module")
def smollm():
    from dsa_core.host.load import load_model

    loaded = load_model()
    load_default_indexers(loaded.model)
    return loaded


def test_the_pooled_key_file_has_the_hosts_shape():
    pooled, cfg, meta = load_indexers(COMPRESSED_PATH)
    shipped, shipped_cfg, shipped_meta = load_indexers(DEFAULT_PATH)
    assert len(pooled) == len(shipped) == 30 and all(i is not None for i in pooled)
    assert {f: getattr(cfg, f) for f in SHAPE_FIELDS} == {f: getattr(shipped_cfg, f) for f in SHAPE_FIELDS}
    assert meta["host"] == shipped_meta["host"] and f"c = {COMPRESSED_C}" in meta["recipe"]
    shapes = lambda ind: {n: p.shape for n, p in ind.state_dict().items()}  # noqa: E731
    assert all(shapes(a) == shapes(b) for a, b in zip(pooled, shipped))
    assert not torch.equal(pooled[12].wk.weight, shipped[12].wk.weight)  # trained further, not a copy


def test_pooled_key_weights_beat_the_token_weights_on_held_out_text(smollm):
    torch.manual_seed(0)
    ids = torch.tensor(encode(smollm, HELD_OUT.read_text(encoding="utf-8"), 1024).ids)[None]  # [1,T]
    x = layer_inputs(smollm.model, ids, list(LAYERS))  # {layer: [1,T,dim]}
    pooled = load_indexers(COMPRESSED_PATH)[0]
    with torch.no_grad():
        recall = {
            layer: [
                compressed_recall(smollm.model, layer, ind, x[layer], COMPRESSED_C, 128)
                for ind in (smollm.model.layers[layer].self_attn.indexer, pooled[layer])
            ]
            for layer in LAYERS
        }
    for layer, (shipped, trained) in recall.items():
        assert trained > shipped, (layer, shipped, trained)


def test_a_member_with_weights_scores_with_them(smollm):
    v = Member("compressed", weights=str(COMPRESSED_PATH))
    assert v.label(128) == "compressed keys (c = 4, pooled-key weights)"
    attached = smollm.model.layers[5].self_attn.indexer
    own = member_indexer(v, 5, attached)
    assert own is not attached and torch.equal(own.wk.weight, load_indexers(COMPRESSED_PATH)[0][5].wk.weight)
    assert member_indexer(Member("compressed"), 5, attached) is attached
    x = torch.randn(1, 40, smollm.model.cfg.dim)
    assert torch.equal(layer_picks(own, x, v, 16), layer_picks(own, x, Member("compressed"), 16))


def test_the_command_runs_compressed_trained(capsys):
    args = [str(HELD_OUT), "--k", "32", "--tokens", "96", "--recall-layers", "0,15"]
    main([*args, "--member", "compressed,compressed-trained", "--json"])
    rep = json.loads(capsys.readouterr().out)
    plain, trained = rep["members"]["compressed"], rep["members"]["compressed-trained"]
    assert plain["weights"] is None and trained["weights"] == COMPRESSED_PATH.name
    assert trained["label"] == "compressed keys (c = 4, pooled-key weights)"
    assert trained["indexer_flops_per_token"] == plain["indexer_flops_per_token"]
    assert plain["recall"] != trained["recall"] and trained["perplexity"] > 1
    main([*args, "--member", "compressed-trained"])
    assert "compressed keys (c = 4, pooled-key weights)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main([*args, "--member", "compressed-trained", "--compress", "8"])
