"""Tiny random host model and indexers shared by the training tests (CPU, milliseconds)."""

from dataclasses import replace
from types import SimpleNamespace

import pytest
import torch

from dsa_core.config import SMOLLM2_HOST
from dsa_core.host.model import ModelConfig, Transformer

TINY_MODEL = ModelConfig(
    vocab_size=64, dim=32, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=8, hidden_dim=64, max_seq_len=256
)
TINY_INDEXER = replace(
    SMOLLM2_HOST,
    dim=32,
    n_layers=2,
    n_heads=4,
    n_kv_heads=2,
    head_dim=8,
    index_n_heads=2,
    index_head_dim=8,
    index_topk=4,
)


@pytest.fixture
def tiny_model():
    torch.manual_seed(0)
    return Transformer(TINY_MODEL).eval()


@pytest.fixture
def tiny_cfg():
    return TINY_INDEXER


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one thread avoids thread-pool overhead on busy shared CPUs (40 s -> 2 s)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class CharTokenizer:
    """One token per character (ids modulo the tiny vocabulary), with the offsets prepare_ids needs."""

    def encode(self, text):
        return SimpleNamespace(
            ids=[ord(c) % 64 for c in text], offsets=[(i, i + 1) for i in range(len(text))]
        )

    def decode(self, ids):
        return "".join(chr(97 + i % 26) for i in ids)


@pytest.fixture
def as_loaded():
    """as_loaded(model): the model as host.load.load_model returns it, with a one-token-per-character
    tokenizer, for the reports that read text files (evaluate, variants)."""
    return lambda model: SimpleNamespace(model=model, tokenizer=CharTokenizer(), name="tiny")
