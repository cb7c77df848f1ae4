"""The Triton kernels against the reference on random inputs (skipped without Triton and a GPU).

On a CUDA machine: bf16 inputs. Without a GPU, set TRITON_INTERPRET=1 to run the same checks in
Triton's CPU interpreter (fp16: the interpreter mishandles bf16 matrix products), at small sizes.
The selection is checked set for set: on random inputs against select_topk of the kernel's own
scores (index_scores_triton runs the same tile code, so the same bits), and on integer inputs, whose
scores are exact in fp32 in any order, against the reference itself, ties included.
"""

import pytest
import torch
from kernel_inputs import DEV, DT, INTERPRET, indexer_inputs

triton = pytest.importorskip("triton")
if not (torch.cuda.is_available() or INTERPRET):
    pytest.skip("needs a CUDA GPU (or TRITON_INTERPRET=1)", allow_module_level=True)

from dsa_core.fast import api, plan
from dsa_core.fast.decode_triton import combine_into  # noqa: F401 (imports the decode kernel)
from dsa_core.fast.indexer_triton import index_scores_triton
from dsa_core.fast.sparse_attn_triton import sparse_attention_into
from dsa_core.fast.topk_triton import select_topk_into
from dsa_core.indexer import index_scores
from dsa_core.pipeline import index_topk
from dsa_core.sparse import sparse_attention
from dsa_core.topk import select_topk


def _randn(*shape, seed, dtype=DT):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g).to(DEV, dtype)


@pytest.mark.parametrize(
    "B,S,T,h,d,kpp",
    [(2, 40, 40, 4, 32, 64), (1, 3, 300, 64, 16, 128), (1, 1, 700, 4, 32, 256)]
    + ([] if INTERPRET else [(1, 1000, 5000, 64, 128, 4096)]),
)
def test_indexer_scores_match_reference(B, S, T, h, d, kpp):
    q, k, w = (
        _randn(B, S, h, d, seed=1),
        _randn(B, T, d, seed=2),
        _randn(B, S, h, seed=3, dtype=torch.float32),
    )
    out = index_scores_triton(q, k, w, plan.indexer_blocks(h, d), bn=64, kpp=kpp)
    ref = index_scores(q.float(), k.float(), w)
    assert torch.equal(torch.isfinite(out), torch.isfinite(ref))
    fin = torch.isfinite(ref)
    assert ((out[fin] - ref[fin]).norm() / ref[fin].norm()).item() < 1e-5


def _group_range(scores, kpp):
    """Per-group max/min of the visible scores, as the indexer kernel writes them."""
    B, S, T = scores.shape
    G = -(-T // kpp)
    gmax = torch.full((B, S, G), float("-inf"), device=DEV)
    gmin = torch.full((B, S, G), float("inf"), device=DEV)
    for g in range(G):
        blk = scores[..., g * kpp : (g + 1) * kpp]
        gmax[..., g] = blk.amax(-1)
        gmin[..., g] = blk.masked_fill(blk == float("-inf"), float("inf")).amin(-1)
    return gmax, gmin


@pytest.mark.parametrize("kind", ["normal", "ties", "outliers", "heavy_tail"])
@pytest.mark.parametrize(
    "S,T,K", [(30, 300, 16), (4, 2000, 100)] + ([] if INTERPRET else [(64, 20000, 2048)])
)
def test_topk_kernel_selects_the_reference_set(kind, S, T, K):
    g = torch.Generator().manual_seed(hash((kind, S, T)) % 1000)
    x = {
        "normal": lambda: torch.randn(1, S, T, generator=g),
        "ties": lambda: torch.randint(0, 3, (1, S, T), generator=g).float(),
        "outliers": lambda: torch.randn(1, S, T, generator=g).index_fill(2, torch.arange(0, T, 7), 50.0),
        "heavy_tail": lambda: torch.randn(1, S, T, generator=g) ** 5,
    }[kind]().to(DEV)
    pos = torch.arange(T - S, T, device=DEV)
    x = x.masked_fill(torch.arange(T, device=DEV)[None, None] > pos[None, :, None], float("-inf"))
    kpp = 256 if INTERPRET else 4096
    gmax, gmin = _group_range(x, kpp)
    out = torch.full((1, S, K), -7, device=DEV, dtype=torch.int32)  # poison: every slot is written
    kw = dict(nb=16, block=256, cap=32) if INTERPRET else {}
    select_topk_into(x, gmax, gmin, out, T - S, T, kpp, **kw)
    ref = select_topk(x, K)
    assert torch.equal(out.long().sort(-1).values, ref.sort(-1).values)


@pytest.mark.parametrize(
    "B,T,H,H_kv,D,Dv,K,mla",
    [(2, 50, 9, 3, 64, 64, 16, False), (1, 40, 8, 1, 96, 64, 8, True), (1, 70, 4, 2, 32, 16, 100, False)]
    + ([] if INTERPRET else [(1, 600, 128, 1, 576, 512, 256, True)]),
)
def test_sparse_attention_kernel_matches_reference(B, T, H, H_kv, D, Dv, K, mla):
    q, kv = _randn(B, T, H, D, seed=4), _randn(B, T, H_kv, D, seed=5)
    v = kv[..., :Dv] if mla else _randn(B, T, H_kv, Dv, seed=6)
    qi, ki, w = (
        _randn(B, T, 4, 16, seed=7).float(),
        _randn(B, T, 16, seed=8).float(),
        _randn(B, T, 4, seed=9).float(),
    )
    idx = index_topk(qi, ki, w, K)
    p = api.attention_plan(q, kv, v)
    assert p["v_is_k"] == mla
    ref = sparse_attention(q.float(), kv.float(), v.float(), idx)
    for trunc, splits in ((False, 1), (True, 1), (True, 3)):  # splits: decode's split-K form
        out = torch.full((B, T, H, Dv), float("nan"), device=DEV, dtype=DT)
        sparse_attention_into(
            q,
            kv,
            v,
            idx.int(),
            out,
            D**-0.5,
            p["split"],
            p["bh"],
            p["v_is_k"],
            trunc,
            bn=16 if INTERPRET else p["bn"],
            num_warps=p["num_warps"],
            splits=splits,
        )
        assert ((out.float() - ref).norm() / ref.norm()).item() < 1e-2


@pytest.mark.skipif(INTERPRET, reason="the whole pipeline at real sizes: GPU only")
@pytest.mark.parametrize("S,T", [(4096, 4096), (1, 9000)])
def test_index_topk_pipeline_picks_the_reference_scores(S, T):
    q, k, w = (
        _randn(1, S, 64, 128, seed=10),
        _randn(1, T, 128, seed=11),
        _randn(1, S, 64, seed=12, dtype=torch.float32),
    )
    idx = api.index_topk(q, k, w, 2048, chunk_plan=[(s0, min(s0 + 1000, S)) for s0 in range(0, S, 1000)])
    ref_scores = index_scores(q.float(), k.float(), w)  # [1, S, T]
    ref = select_topk(ref_scores, 2048)
    assert torch.equal((idx < 0), (ref < 0).sort(-1).values)  # same count of empty slots, last
    mine = ref_scores.gather(-1, idx.long().clamp(min=0)).masked_fill(idx < 0, 0).sum(-1)
    best = ref_scores.gather(-1, ref.clamp(min=0)).masked_fill(ref < 0, 0).sum(-1)
    assert torch.allclose(mine, best, rtol=1e-5, atol=1e-3)  # near-ties may swap; totals agree


@pytest.mark.skipif(INTERPRET, reason="FP8 tensor-core products: GPU only")
def test_fp8_index_topk_picks_the_fp8_reference_scores():
    from dsa_core.fp8 import fp8_index_scores

    S = T = 3000
    q, k, w = (
        _randn(1, S, 64, 128, seed=13),
        _randn(1, T, 128, seed=14),
        _randn(1, S, 64, seed=15, dtype=torch.float32),
    )
    idx = api.index_topk(q, k, w, 2048, fp8=True)
    ref_scores = fp8_index_scores(q.float(), k.float(), w, rotate=False)  # [1, S, T]
    ref = select_topk(ref_scores, 2048)
    mine = ref_scores.gather(-1, idx.long().clamp(min=0)).masked_fill(idx < 0, 0).sum(-1)
    best = ref_scores.gather(-1, ref.clamp(min=0)).masked_fill(ref < 0, 0).sum(-1)
    assert torch.allclose(mine, best, rtol=1e-3, atol=1e-2)


def _sets(idx):
    return idx.long().sort(-1).values  # [B, S, K], -1 slots first


SELECTION_CASES = [
    (2, 40, 40, 4, 32, 8),  # the first rows see fewer than K keys: -1 slots
    (1, 130, 2600, 4, 16, 32),  # T not a multiple of the 64-key tile; pass A samples every 8th tile
    (1, 1, 3000, 4, 16, 64),  # decode: one query against a long cache
    (1, 3, 20, 4, 16, 64),  # T < K: every row is short
] + (
    []
    if INTERPRET
    else [
        (1, 8192, 8192, 4, 64, 128),  # the host's indexer, several position ranges
        (1, 4096, 4096, 64, 128, 2048),  # the 671B indexer
        (32, 1, 131072, 64, 128, 2048),  # a 671B decode step at 128K
    ]
)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("B,S,T,h,d,K", SELECTION_CASES)
def test_threshold_selection_is_the_top_k_of_the_kernel_scores(fused, B, S, T, h, d, K):
    q, k, w = indexer_inputs(B, S, T, h, d, seed=S + T)
    stats = {}
    idx = api.index_topk_triton(q, k, w, K, select="threshold", fused=fused, stats=stats)
    scores = index_scores_triton(q, k, w, plan.indexer_blocks(h, d), bn=64)  # the same bits [B, S, T]
    assert torch.equal(_sets(idx), _sets(select_topk(scores, K)))
    assert torch.equal(idx < 0, select_topk(scores, K) < 0)  # -1 slots last, as many as the reference
    if fused == plan.fuse_rescore(S, h, d):  # the plan's own choice: no row needs the histogram path
        assert stats["redone"] == 0  # (forced fused at the 671B decode shape, the H100 redid one range)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("B,S,T,h,d,K", [(1, 70, 700, 4, 16, 16), (2, 1, 2000, 4, 16, 64)])
def test_threshold_selection_equals_the_reference_with_ties(fused, B, S, T, h, d, K):
    q, k, w = indexer_inputs(B, S, T, h, d, seed=7, integer=True)
    idx = api.index_topk_triton(q, k, w, K, select="threshold", fused=fused)
    ref = select_topk(index_scores(q.float(), k.float(), w), K)  # ties to the lower position
    assert torch.equal(_sets(idx), _sets(ref))
    zero = api.index_topk_triton(
        q * 0, k, w, K, select="threshold", fused=fused
    )  # all scores equal: the first K positions
    assert torch.equal(_sets(zero), _sets(select_topk(index_scores(q.float() * 0, k.float(), w), K)))


def test_rows_with_too_many_candidates_are_redone_exactly(monkeypatch):
    monkeypatch.setattr(plan, "candidate_cap", lambda K: 2 * K)  # ties overflow a list of 2 K
    q, k, w = indexer_inputs(1, 30, 300, 4, 16, seed=8, integer=True)
    stats = {}
    idx = api.index_topk_triton(q * 0, k, w, 16, select="threshold", fused=True, stats=stats)
    assert stats["redone"] > 0
    assert torch.equal(_sets(idx), _sets(select_topk(index_scores(q.float() * 0, k.float(), w), 16)))


@pytest.mark.skipif(INTERPRET, reason="65,536 queries: GPU only")
@pytest.mark.parametrize("fused", [True, False])
def test_selection_with_more_than_65536_queries(fused):
    S = T = 66000  # grid axis 1 and 2 stop at 65,535: queries must go on axis 0
    q, k, w = indexer_inputs(1, S, T, 4, 16, seed=9)
    idx = api.index_topk_triton(q, k, w, 64, select="threshold", fused=fused)
    tail = index_scores_triton(q[:, -64:], k, w[:, -64:], plan.indexer_blocks(4, 16), bn=64)  # last rows
    assert torch.equal(_sets(idx[:, -64:]), _sets(select_topk(tail, 64)))


@pytest.mark.skipif(INTERPRET, reason="the 671B decode step at real size: GPU only")
def test_decode_step_matches_the_reference_on_its_picks():
    B, T, H, D, Dv, K = 4, 20000, 128, 576, 512, 2048
    q, kv = _randn(B, 1, H, D, seed=20), _randn(B, T, 1, D, seed=21)
    qi, ki, w = indexer_inputs(B, 1, T, 64, 128, seed=22)
    idx = api.index_topk(qi, ki, w, K)
    out = api.dsa_layer_fused(q, kv, kv[..., :Dv], qi, ki, w, K)  # split-K attention (few programs)
    ref = sparse_attention(q.float(), kv.float(), kv[..., :Dv].float(), idx.long())
    assert ((out.float() - ref).norm() / ref.norm()).item() < 1e-2
