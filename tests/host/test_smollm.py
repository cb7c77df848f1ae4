"""The embedded SmolLM2-135M against transformers, and the trace / log-prob API on it (slow: real model)."""

import pytest
import torch

from dsa_core.analysis.trace import compare_runs, trace_layers
from dsa_core.config import SMOLLM2_HOST
from dsa_core.host.load import GGUF_NAME, bundled_gguf_path
from dsa_core.host.model import attach_indexers
from dsa_core.host.selects import dsa_select, window_select
from dsa_core.indexer import LightningIndexer
from dsa_core.metrics import window_topk

pytestmark = pytest.mark.slow
TEXTS = [
    "The capital of France is Paris. It has 2,148,271 inhabitants (2020).",
    "def square(x):\n    return x ** 2  # 12345\n\n\tprint(square(3.14))",
    "Emoji 😀👍🏽 and 👨‍👩‍👧 families, café naïve",
    "深度求索稀疏注意力机制，你好世界。",
    "<|im_start|>user\nHi!<|im_end|>\n",
    "  spaces   and\n\n\nnewlines ",
]


@pytest.fixture(scope="module")
def reference():
    """transformers' own GGUF loader: LlamaForCausalLM and tokenizer from the same file.

    While it loads, gguf's file reader and tensor-name map are built once and reused: transformers
    (5.24) reads the file's metadata anew for the config, the tokenizer and the weights, and builds the
    name map again for each of the model's ~400 modules (both are read-only; 45 s -> 15 s on 2 cores)."""
    import functools

    import gguf
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    folder = bundled_gguf_path().parent
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gguf, "GGUFReader", functools.lru_cache(maxsize=1)(gguf.GGUFReader))
        mp.setattr(gguf, "get_tensor_name_map", functools.lru_cache(maxsize=1)(gguf.get_tensor_name_map))
        tok = AutoTokenizer.from_pretrained(folder, gguf_file=GGUF_NAME)
        model = AutoModelForCausalLM.from_pretrained(
            folder, gguf_file=GGUF_NAME, dtype=torch.float32, quantization_config=GgufConfig(dequantize=True)
        ).eval()
    return tok, model


@pytest.fixture
def indexed(smollm):
    """SmolLM2 with a fresh (untrained) lightning indexer in every layer; removed afterwards."""
    torch.manual_seed(0)
    attach_indexers(smollm.model, [LightningIndexer(SMOLLM2_HOST) for _ in smollm.model.layers])
    yield smollm
    attach_indexers(smollm.model, [None] * len(smollm.model.layers))


def test_tokenizer_ids_match_transformers(smollm, reference):
    for text in TEXTS:
        assert smollm.tokenizer.encode(text).ids == reference[0](text)["input_ids"], text


def test_logits_match_transformers(smollm, reference):
    ids = torch.tensor([smollm.tokenizer.encode(" ".join(TEXTS)).ids])  # [1,T]
    with torch.no_grad():
        torch.testing.assert_close(smollm.model(ids), reference[1](ids).logits, atol=2e-4, rtol=1e-4)


def test_the_capital_of_france_is_paris(smollm):
    ids = torch.tensor([smollm.tokenizer.encode("The capital of France is").ids])
    with torch.no_grad():
        assert smollm.tokenizer.decode([int(smollm.model(ids)[0, -1].argmax())]) == " Paris"


def test_dsa_and_window_with_k_at_least_T_equal_dense(indexed):
    ids = torch.tensor([indexed.tokenizer.encode(TEXTS[0]).ids])  # [1,T]
    with torch.no_grad():
        dense = indexed.model(ids)
        for select in (dsa_select(ids.shape[1]), window_select(ids.shape[1] + 5)):
            torch.testing.assert_close(indexed.model(ids, select), dense, atol=1e-4, rtol=1e-4)


def test_trace_records_only_the_requested_layers_with_the_documented_shapes(indexed):
    prep, recs = trace_layers(indexed, TEXTS[1], layers=[2, 5], topk=8)
    T, H = len(prep.ids), indexed.model.cfg.n_heads
    assert sorted(recs) == [2, 5]
    r = recs[5]
    assert len(r.tokens) == T and r.tokens[:2] == ["def", "·square"] and "↵···" in r.tokens
    assert r.x.shape == (T, 576) and r.dense_probs.shape == (H, T, T) and r.dense_mean.shape == (T, T)
    assert torch.allclose(r.dense_probs.sum(-1), torch.ones(H, T), atol=1e-5)
    assert (r.dense_probs.triu(1) == 0).all()  # causal
    assert r.index_scores.shape == (T, T) and r.topk_indices.shape == (T, 8)
    assert r.sparse_probs.shape == (H, T, 8) and r.recall.shape == (T,)
    assert (r.topk_indices <= torch.arange(T)[:, None]).all()  # no future picks
    assert torch.allclose(r.recall[:8], torch.ones(8))  # k >= t+1: all mass
    wide = r.select(T)  # new k, no re-run
    assert torch.allclose(wide.recall, torch.ones(T), atol=1e-5)
    window = r.select(topk_indices=window_topk(T, 8))
    assert window.topk_indices.shape == (T, 8) and (window.recall <= 1 + 1e-5).all()


def test_compare_runs_scores_every_mode_and_k_at_least_T_changes_nothing(indexed):
    runs = compare_runs(indexed, TEXTS[0], topk=4096, modes=("dense", "dsa", "window", "random"))
    T = len(indexed.tokenizer.encode(TEXTS[0]).ids)
    for run in runs.values():
        assert run.logprobs.shape == (T - 1,) and run.top1.shape == (T - 1,)
        torch.testing.assert_close(run.logprobs, runs["dense"].logprobs, atol=1e-4, rtol=1e-4)
    assert 1 < runs["dense"].perplexity < 1000
    small = compare_runs(indexed, TEXTS[0], topk=4, modes=("dense", "window"))
    assert small["window"].perplexity != small["dense"].perplexity


def test_a_trace_resumed_from_a_checkpoint_equals_a_fresh_trace(indexed):
    """model.hidden's checkpoints: the residual stream saved entering layer 3 lets a trace of layer 5
    run layers 3..5 only, with the same numbers as a run from the embeddings."""
    saved = {3: None}
    trace_layers(indexed, TEXTS[0], layers=[2], save=saved, reselect=False)
    assert saved[3] is None  # the run stopped after layer 2: layer 3 was never entered
    trace_layers(indexed, TEXTS[0], layers=[4], save=saved, reselect=False)
    assert saved[3] is not None and saved[3].shape[-1] == 576
    _, fresh = trace_layers(indexed, TEXTS[0], layers=[5], reselect=False)
    _, resumed = trace_layers(indexed, TEXTS[0], layers=[5], resume=(3, saved[3]), reselect=False)
    for name in ("x", "q", "k", "dense_mean", "index_scores"):
        assert torch.equal(getattr(fresh[5], name), getattr(resumed[5], name)), name


def test_a_trace_without_the_index_map_gives_the_same_rows_rankings_and_maps(indexed):
    """Long texts keep no [T,T] index-score map (keep_index_map=False): rows recomputed from x equal the
    stored map's, and so do the ranking, the pooled and zoomed score maps and a view's score rows."""
    import numpy as np

    from dsa_core.analysis import maps, numbers, rank
    from dsa_core.analysis.trace import ScoreRows, index_rows

    text = " ".join(TEXTS * 6)
    _, kept = trace_layers(indexed, text, layers=[4], per_head=False, reselect=False)
    _, lean = trace_layers(indexed, text, layers=[4], per_head=False, reselect=False, keep_index_map=False)
    a, b = kept[4], lean[4]
    assert b.index_scores is None and b.indexer is a.indexer
    T = len(a.tokens)
    torch.testing.assert_close(index_rows(b, 0, T), a.index_scores, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(index_rows(b, 7, 30), a.index_scores[7:30], rtol=1e-5, atol=1e-5)
    assert torch.equal(rank.rank_index(b, depth=16), rank.rank_scores(a.index_scores, depth=16))
    assert torch.equal(rank.rank_index(b), rank.rank_scores(a.index_scores))
    for how, zoom in (("max", None), ("mean", None), ("max", (5, 20))):
        za, zb = (maps.base_maps(r, None, how, zoom, 16)["scores"]["z"] for r in (a, b))
        np.testing.assert_allclose(zb, za, rtol=1e-5, atol=1e-5)
    v = numbers.layer_view(b, 8, sparse=False)
    assert isinstance(v.scores, ScoreRows) and v.scores.shape == (T, T)
    np.testing.assert_allclose(v.scores[T - 1], a.index_scores[T - 1].numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(v.scores), a.index_scores.numpy(), rtol=1e-5, atol=1e-5)
