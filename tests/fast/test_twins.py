"""Pages name the function that ran: each twin maps to its reference and a test that exists."""

import pathlib

import pytest

from dsa_core.analysis import numbers, rank, trace
from dsa_core.fast import twins
from dsa_core.indexer import index_scores
from dsa_core.sparse import sparse_attention, sparse_attention_probs
from dsa_core.topk import select_topk

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_every_twin_names_an_existing_test():
    for twin, (reference, test) in twins.TWINS.items():
        path, _, name = test.split(" ")[0].partition("::")
        text = (ROOT / path).read_text()
        assert not name or f"def {name}" in text, test
        assert twin.__name__ != reference.__name__ or twin.__module__ != reference.__module__


def test_the_note_names_what_the_analysis_code_runs():
    assert "index_scores_fast" in twins.ran_note(index_scores, trace.INDEX_SCORES)
    assert "select_topk_fast" in twins.ran_note(select_topk, rank.topk_fn(256))
    assert "itself" in twins.ran_note(select_topk, rank.topk_fn(None))
    assert "itself" in twins.ran_note(sparse_attention_probs, numbers.sparse_fn(16, 2048))
    assert "sparse_probs_via_dense" in twins.ran_note(sparse_attention_probs, numbers.sparse_fn(512, 2048))


def test_a_function_that_is_no_twin_of_the_reference_is_refused():
    with pytest.raises(ValueError, match="not a tested twin"):
        twins.ran_note(sparse_attention, trace.INDEX_SCORES)
