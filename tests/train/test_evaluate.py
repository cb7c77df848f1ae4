"""evaluate.py on a tiny random model: the JSON report has the documented schema and sane values."""

import json
from types import SimpleNamespace

from dsa_core.host.indexers import load_indexers, save_indexers
from dsa_core.host.model import attach_indexers
from dsa_core.train.evaluate import LAYER_KEYS, evaluate_files, table
from dsa_core.train.stage1 import make_indexers


class CharTokenizer:
    """One token per character (ids modulo the tiny vocabulary), with the offsets prepare_ids needs."""

    def encode(self, text):
        return SimpleNamespace(
            ids=[ord(c) % 64 for c in text], offsets=[(i, i + 1) for i in range(len(text))]
        )

    def decode(self, ids):
        return "".join(chr(97 + i % 26) for i in ids)


def test_report_schema(tiny_model, tiny_cfg, tmp_path):
    path = tmp_path / "ix.safetensors"
    save_indexers(path, make_indexers(tiny_cfg, range(2)), tiny_cfg, "tiny")
    attach_indexers(tiny_model, load_indexers(path)[0])
    text = tmp_path / "a.txt"
    text.write_text("the quick brown fox jumps over the lazy dog " * 3)
    loaded = SimpleNamespace(model=tiny_model, tokenizer=CharTokenizer(), name="tiny")
    report = json.loads(json.dumps(evaluate_files(loaded, [text, text], k=8, tokens=100)))
    assert set(report) == {"k", "tokens", "files", "layers", "mean", "perplexity"}
    assert [l["layer"] for l in report["layers"]] == [0, 1]
    assert all(set(l) == {"layer", *LAYER_KEYS} for l in report["layers"])
    assert all(0 <= l["recall_indexer"] <= l["recall_oracle"] + 1e-6 <= 1 + 1e-6 for l in report["layers"])
    assert set(report["mean"]) == {*LAYER_KEYS, "indexer_over_oracle", "layers_indexer_above_window"}
    assert {"dense", "dsa", "window", "dense_beyond_k", "dsa_vs_dense"} <= set(report["perplexity"])
    assert report["files"][0]["tokens"] == 100 and len(report["files"]) == 2
    assert "perplexity (k=8)" in table(report)


def test_dsa_equals_dense_when_k_covers_the_text(tiny_model, tiny_cfg, tmp_path):
    attach_indexers(tiny_model, list(make_indexers(tiny_cfg, range(2)).values()))
    text = tmp_path / "a.txt"
    text.write_text("abcdefghij" * 3)
    loaded = SimpleNamespace(model=tiny_model, tokenizer=CharTokenizer(), name="tiny")
    ppl = evaluate_files(loaded, [text], k=64)["perplexity"]
    assert abs(ppl["dsa"] - ppl["dense"]) < 1e-4 * ppl["dense"]
