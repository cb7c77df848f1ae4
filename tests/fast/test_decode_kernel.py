"""The decode step's one-launch selection and the whole step (dsa_core/fast/decode_triton.py).

The plan checks run everywhere; the kernel checks need Triton and a GPU, or TRITON_INTERPRET=1 (Triton's
CPU interpreter: fp16, small sizes), as tests/fast/test_kernels.py. The selection is compared set for
set with the reference `select_topk(index_scores(...))` on integer inputs (every score exact in fp32,
ties everywhere) and with `select_topk` of the kernel's own scores on random inputs.
"""

import pytest
import torch
from kernel_inputs import DEV, DT, INTERPRET, indexer_inputs

from dsa_core.fast import plan
from dsa_core.indexer import index_scores
from dsa_core.sparse import sparse_attention
from dsa_core.topk import select_topk


@pytest.mark.parametrize(
    "B,T,K", [(32, 131072, 2048), (1, 3000, 64), (4, 700, 16), (1, 20, 64), (2, 9999, 100)]
)
def test_decode_selection_plan_keeps_enough_maxima(B, T, K):
    sel = plan.decode_selection(B, 1, T, K)
    assert sel["cols"] == -(-T // sel["g"]) <= sel["rb"] <= plan.threshold_values(K)
    assert sel["cols"] >= min(T, 2 * K)  # a tight threshold: at least 2 K group maxima a row
    assert 64 % sel["g"] == 0 and sel["per"] % sel["block"] == 0


def test_decode_selection_plan_refuses_what_registers_cannot_hold():
    assert plan.decode_selection(32, 1, 1 << 20, 2048) is None  # 16,384 maxima a row: the general path
    assert plan.decode_selection(32, 1, 131072, 2048)["g"] == 32  # the 671B step: 4,096 maxima a row


try:
    import triton  # noqa: F401

    HAVE = torch.cuda.is_available() or INTERPRET
except ImportError:
    HAVE = False
needs_triton = pytest.mark.skipif(not HAVE, reason="needs Triton and a CUDA GPU (or TRITON_INTERPRET=1)")


def _topk(q, k, w, K):
    from dsa_core.fast.api import indexer_plan
    from dsa_core.fast.decode_triton import decode_index_topk

    out = torch.full((q.shape[0], q.shape[1], K), -7, device=DEV, dtype=torch.int32)  # poison
    return decode_index_topk(q, k, w, K, indexer_plan(q, k, w, K)["bq"], out=out)


def _sets(idx):
    return idx.long().sort(-1).values  # [B, S, K], -1 slots first


@pytest.fixture
def small_chunks(monkeypatch):
    """Many programs per row at small sizes: 256-key blocks, 512-key chunks."""
    real = plan.decode_selection

    def small(*a, **kw):
        sel = real(*a, **kw)
        return sel and sel | {"block": 256, "per": 512}

    monkeypatch.setattr(plan, "decode_selection", small)


CASES = [(2, 1, 3000, 4, 16, 64), (1, 3, 700, 4, 16, 16), (2, 1, 1000, 4, 16, 100), (2, 1, 50, 4, 16, 64)]


@needs_triton
@pytest.mark.parametrize("B,S,T,h,d,K", CASES)
def test_decode_topk_equals_the_reference_on_exact_scores(small_chunks, B, S, T, h, d, K):
    q, k, w = indexer_inputs(B, S, T, h, d, seed=T + K, integer=True)
    ref = select_topk(index_scores(q.float(), k.float(), w), K)  # ties to the lower position
    idx = _topk(q, k, w, K)
    assert torch.equal(_sets(idx), _sets(ref))
    assert torch.equal(idx < 0, ref < 0)  # -1 slots last, as many as the reference


@needs_triton
@pytest.mark.parametrize("B,S,T,h,d,K", CASES[:3])
def test_decode_topk_is_the_top_k_of_the_kernel_scores(B, S, T, h, d, K):
    from dsa_core.fast.api import indexer_plan
    from dsa_core.fast.indexer_triton import index_scores_triton

    q, k, w = indexer_inputs(B, S, T, h, d, seed=T)
    scores = index_scores_triton(q, k, w, indexer_plan(q, k, w, K)["bq"], bn=64)  # the same bits
    assert torch.equal(_sets(_topk(q, k, w, K)), _sets(select_topk(scores, K)))


@needs_triton
def test_overflowing_lists_are_picked_exactly_and_counters_reset(small_chunks, monkeypatch):
    from dsa_core.fast import decode_triton

    monkeypatch.setattr(plan, "candidate_cap", lambda K: 2 * K)  # a list of 32 entries for K = 16
    q, k, w = indexer_inputs(2, 1, 1500, 4, 16, seed=5, integer=True)
    for qq in (q * 0, q, q * 0):  # all scores equal (every key a candidate), then the usual, then again
        ref = select_topk(index_scores(qq.float(), k.float(), w), 16)
        assert torch.equal(_sets(_topk(qq, k, w, 16)), _sets(ref))
    for ws in decode_triton._WORKSPACES.values():  # left as found: zero counters for the next step
        assert not ws["cnt"].any() and not ws["done"].any()


@needs_triton
def test_decode_step_matches_the_reference_on_the_reference_picks():
    from dsa_core.fast.decode_triton import decode_step

    B, T, H, D, Dv, K = 2, 1200, 8, 48, 32, 64  # 48 = 32 + 16: the two dots of the MLA form
    g = torch.Generator().manual_seed(3)
    q = torch.randn(B, 1, H, D, generator=g).to(DEV, DT)
    kv = torch.randn(B, T, 1, D, generator=g).to(DEV, DT)
    qi, ki, w = indexer_inputs(B, 1, T, 4, 16, seed=4, integer=True)
    idx = select_topk(index_scores(qi.float(), ki.float(), w), K)  # [B, 1, K]
    ref = sparse_attention(q.float(), kv.float(), kv[..., :Dv].float(), idx)
    out = decode_step(q, kv, kv[..., :Dv], qi, ki, w, K, bn=16 if INTERPRET else 64)  # split in 4 + combine
    assert ((out.float() - ref).norm() / ref.norm()).item() < 1e-2


@needs_triton
@pytest.mark.skipif(INTERPRET, reason="the 671B decode step at real size: GPU only")
def test_decode_step_at_the_671b_shape():
    from dsa_core.fast.decode_triton import decode_step
    from dsa_core.fast.indexer_triton import index_scores_triton

    B, T, H, D, Dv, K = 32, 131072, 128, 576, 512, 2048
    qi, ki, w = indexer_inputs(B, 1, T, 64, 128, seed=22)
    scores = index_scores_triton(qi, ki, w, 1, bn=64)  # the kernel's own scores [B, 1, T]
    idx = _topk(qi, ki, w, K)
    assert torch.equal(_sets(idx), _sets(select_topk(scores, K)))
    g = torch.Generator(device="cuda").manual_seed(23)
    q = torch.randn(B, 1, H, D, device="cuda", generator=g, dtype=DT)
    kv = torch.randn(B, T, 1, D, device="cuda", generator=g, dtype=DT)
    out = decode_step(q, kv, kv[..., :Dv], qi, ki, w, K)
    ref = sparse_attention(q.float(), kv.float(), kv[..., :Dv].float(), idx.long())
    assert ((out.float() - ref).norm() / ref.norm()).item() < 1e-2


@needs_triton
@pytest.mark.parametrize("B,S,T,K", [(2, 1, 3000, 64), (1, 3, 700, 16), (2, 1, 40, 64)])
def test_index_topk_decode_path_equals_the_reference(B, S, T, K):
    """api.index_topk_triton(select="decode"): the one-launch selection runs (its workspace appears) and
    returns the reference's set, ties to the lower position."""
    from dsa_core.fast import api, decode_triton

    q, k, w = indexer_inputs(B, S, T, 4, 16, seed=T + S, integer=True)
    decode_triton._WORKSPACES.clear()
    stats = {}
    idx = api.index_topk_triton(q, k, w, K, select="decode", stats=stats)
    assert any(key[1:5] == (B, S, T, K) for key in decode_triton._WORKSPACES)  # the decode kernels ran
    ref = select_topk(index_scores(q.float(), k.float(), w), K)
    assert torch.equal(_sets(idx), _sets(ref)) and torch.equal(idx < 0, ref < 0)
    assert stats["redone"] == 0
