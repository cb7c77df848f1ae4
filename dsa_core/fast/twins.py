"""Which reference each CPU twin stands in for, and the test that proves them equal.

A page that shows a reference function's source names the function that really ran: the analysis
code returns the function it will call (analysis.trace.INDEX_SCORES, analysis.rank.topk_fn,
analysis.numbers.sparse_fn), and `ran_note` turns it into the sentence under the source.
"""

from dsa_core.fast.cpu import index_scores_fast, select_topk_fast, sparse_attention_chunked
from dsa_core.fast.rows import overlap_rows, sparse_probs_via_dense
from dsa_core.indexer import index_scores
from dsa_core.metrics import topk_overlap
from dsa_core.sparse import sparse_attention, sparse_attention_probs
from dsa_core.topk import select_topk

CPU_TWINS = "tests/fast/test_cpu_twins.py"
TWINS = {  # twin -> (the reference it equals, the test that proves it)
    index_scores_fast: (index_scores, CPU_TWINS + " (equal to float rounding)"),
    select_topk_fast: (select_topk, CPU_TWINS + " (bitwise)"),
    sparse_attention_chunked: (sparse_attention, CPU_TWINS),
    sparse_probs_via_dense: (
        sparse_attention_probs,
        "tests/analysis/test_ranked.py::test_sparse_probs_via_dense_equals_sparse_attention_probs",
    ),
    overlap_rows: (topk_overlap, "tests/analysis/test_ranked.py::test_overlap_rows_equals_topk_overlap"),
}


def qualname(fn):
    return f"{fn.__module__}.{fn.__qualname__}"


def ran_note(reference, ran):
    """The sentence under a reference's source: it ran itself, or which twin ran and what proves it equal."""
    if ran is reference:
        return f"This page ran `{qualname(reference)}` itself."
    want, test = TWINS.get(ran, (None, None))
    if want is not reference:
        raise ValueError(f"{qualname(ran)} is not a tested twin of {qualname(reference)}")
    return f"This page ran its tested twin `{qualname(ran)}`, equal by {test}."
