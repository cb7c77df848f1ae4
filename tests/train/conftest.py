"""Tiny random host model and indexers shared by the training tests (CPU, milliseconds)."""

from dataclasses import replace

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
