"""evaluate.py on a tiny random model: the JSON report has the documented schema and sane values."""

import json

from dsa_core.host.indexers import load_indexers, save_indexers
from dsa_core.host.model import attach_indexers
from dsa_core.train.evaluate import LAYER_KEYS, evaluate_files, table
from dsa_core.train.stage1 import make_indexers


def test_report_schema(tiny_model, tiny_cfg, tmp_path, as_loaded):
    path = tmp_path / "ix.safetensors"
    save_indexers(path, make_indexers(tiny_cfg, range(2)), tiny_cfg, "tiny")
    attach_indexers(tiny_model, load_indexers(path)[0])
    text = tmp_path / "a.txt"
    text.write_text("the quick brown fox jumps over the lazy dog " * 3)
    loaded = as_loaded(tiny_model)
    report = json.loads(json.dumps(evaluate_files(loaded, [text, text], k=8, tokens=100)))
    assert set(report) == {"k", "tokens", "files", "layers", "mean", "perplexity"}
    assert [l["layer"] for l in report["layers"]] == [0, 1]
    assert all(set(l) == {"layer", *LAYER_KEYS, "by_position"} for l in report["layers"])
    assert all(0 <= l["recall_indexer"] <= l["recall_oracle"] + 1e-6 <= 1 + 1e-6 for l in report["layers"])
    assert set(report["mean"]) == {
        *LAYER_KEYS,
        "indexer_over_oracle",
        "layers_indexer_above_window",
        "by_position",
    }
    assert list(report["mean"]["by_position"]) == ["0-1K"]  # 100 tokens: one bucket
    assert {"dense", "dsa", "window", "dense_beyond_k", "dsa_vs_dense"} <= set(report["perplexity"])
    assert report["files"][0]["tokens"] == 100 and len(report["files"]) == 2
    assert "perplexity (k=8)" in table(report)


def test_dsa_equals_dense_when_k_covers_the_text(tiny_model, tiny_cfg, tmp_path, as_loaded):
    attach_indexers(tiny_model, list(make_indexers(tiny_cfg, range(2)).values()))
    text = tmp_path / "a.txt"
    text.write_text("abcdefghij" * 3)
    loaded = as_loaded(tiny_model)
    ppl = evaluate_files(loaded, [text], k=64)["perplexity"]
    assert abs(ppl["dsa"] - ppl["dense"]) < 1e-4 * ppl["dense"]


def test_by_position_buckets():
    """Bucket means are the means of the per-query recalls of the queries in each bucket (t >= k only)."""
    import torch

    from dsa_core.train.positions import bucket_summary, by_position

    T = 3000
    r = torch.linspace(0, 1, T)  # [T]
    recall = {"recall_indexer": r, "recall_oracle": r + 1, "recall_window": r * 0}
    rows = torch.arange(T) + 1 > 128  # [T]
    out = by_position(recall, rows)
    assert list(out) == ["0-1K", "1-2K", "2-4K"]
    assert abs(out["0-1K"]["recall_indexer"] - r[128:1024].mean().item()) < 1e-6
    assert abs(out["2-4K"]["recall_oracle"] - (r[2048:] + 1).mean().item()) < 1e-6
    summary = bucket_summary([{"by_position": out}, {"by_position": {"0-1K": out["0-1K"]}}])
    assert summary["2-4K"]["layers_indexer_above_window"] == 1
    assert summary["0-1K"]["layers_indexer_above_window"] == 2
    assert 0 < summary["1-2K"]["indexer_over_oracle"] < 1
