"""The Family page's memory-bounded pieces (dsa_core/family/on_text.py, selectors.layer_overlap): the
sampled every-layer ranking is the full ranking's rows, and the blocked overlap, recall and agreement
give the same numbers as the whole-tensor formulas, from int16 selections of any width."""

import pytest
import torch

from dsa_core.family import on_text as fa
from dsa_core.family import selectors
from dsa_core.host.model import attach_indexers
from dsa_core.metrics import attention_recall
from dsa_core.train.stage1 import make_indexers

IDS = torch.randint(0, 64, (60,), generator=torch.Generator().manual_seed(2))


@pytest.fixture
def model(tiny_model, tiny_cfg):
    return attach_indexers(tiny_model, list(make_indexers(tiny_cfg, range(2)).values()))


def test_sample_rows_spread_over_the_queries_that_see_more_than_m_keys():
    rows = fa.sample_rows(1000, 128, n=16)
    assert rows[0] == 128 and rows[-1] == 999 and len(rows) == 16 and (rows.diff() > 0).all()
    assert fa.sample_rows(50, 64, n=16).tolist()[0] == 0  # no query sees more than m: all rows
    assert fa.sample_rows(10, 2, n=16).tolist() == list(range(2, 10))


def test_the_sampled_ranking_is_the_full_rankings_rows(model):
    rows = fa.sample_rows(len(IDS), 8, n=12)
    full = fa.ranked_all_layers(model, IDS, 8)  # [L,T,8]
    seen = []
    sampled = fa.ranked_sampled_layers(model, IDS, 8, rows, lambda f, m: seen.append(f))  # [L,R,8]
    assert sampled.dtype == torch.int16 and sampled.shape == (2, len(rows), 8) and seen == [0.5, 1.0]
    assert torch.equal(sampled, full[:, rows])


def _pairwise(sets, rows):
    L = len(sets)
    out = torch.eye(L)
    for i in range(L):
        for j in range(L):
            if i != j:
                out[i, j] = selectors.jaccard_rows(sets[i][rows].long(), sets[j][rows].long()).mean()
    return out


def test_layer_overlap_in_row_blocks_equals_the_pairwise_jaccard():
    g = torch.Generator().manual_seed(0)
    T, K = 40, 6
    sets = []
    for _ in range(4):
        s = torch.stack([torch.randperm(T, generator=g)[:K] for _ in range(T)])  # [T,K]
        s[:3, 4:] = -1  # a few empty slots
        sets.append(s.to(torch.int16))
    rows = torch.arange(T) >= K
    expected = _pairwise(sets, rows)
    for block_bytes in (8 * 4 * K, 2**24):  # one row per block, all rows in one block
        assert torch.allclose(selectors.layer_overlap(sets, block_bytes=block_bytes), expected, atol=1e-6)


def test_agreement_pads_narrower_selections_and_recall_reads_blocks():
    g = torch.Generator().manual_seed(1)
    T = 30
    wide = torch.stack([torch.randperm(T, generator=g)[:8] for _ in range(T)]).to(torch.int16)  # [T,8]
    narrow = wide[:, :4].clone()  # [T,4]
    ag = fa.agreement({"wide": wide, "narrow": narrow})
    pad = torch.cat([narrow.long(), torch.full((T, 4), -1)], 1)
    assert torch.allclose(ag[0, 1], selectors.jaccard_rows(wide.long()[8:], pad[8:]).mean(), atol=1e-6)
    dense = torch.rand(T, T, generator=g).softmax(-1)  # [T,T]
    r = fa.recall_table(dense, {"wide": wide, "narrow": narrow}, 8, rows=7)
    keep = torch.arange(T) + 1 > 8
    assert abs(r["wide"] - float(attention_recall(dense, wide.long())[keep].mean())) < 1e-5
    assert r["narrow"] < r["wide"]
