"""Stage 2 (sparse training) on a tiny random model: who learns from which loss, and that it learns."""

import pytest
import torch

from dsa_core.host.model import attach_indexers
from dsa_core.host.selects import dsa_select
from dsa_core.train.stage1 import make_indexers
from dsa_core.train.stage2 import lm_loss, recording_select, train_sparse


def _with_indexers(model, cfg):
    ixs = make_indexers(cfg, range(len(model.layers)), seed=1)
    return attach_indexers(model, [ixs[i] for i in range(len(model.layers))])


def _windows(n=6, T=24, V=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(V, (n, T), generator=g)  # [N, T]


def test_lm_loss_reaches_the_model_and_indexer_loss_only_the_indexer(tiny_model, tiny_cfg):
    model = _with_indexers(tiny_model, tiny_cfg)
    model.requires_grad_(True)
    ids = _windows(2)
    losses = []
    lm_loss(model(ids, recording_select(4, losses)), ids).backward(retain_graph=True)
    assert all(p.grad is None for n, p in model.named_parameters() if ".indexer." in n)  # top-k: no gradient
    assert model.layers[0].self_attn.q_proj.weight.grad.abs().sum() > 0
    model.zero_grad(set_to_none=True)
    torch.stack(losses).mean().backward()  # the indexer's input is detached: nothing else moves
    assert all(p.grad is None for n, p in model.named_parameters() if ".indexer." not in n)
    assert model.layers[1].self_attn.indexer.wq_b.weight.grad.abs().sum() > 0


def test_recording_select_picks_what_dsa_select_picks(tiny_model, tiny_cfg):
    model = _with_indexers(tiny_model, tiny_cfg)
    ids = _windows(2)
    losses = []
    with torch.no_grad():
        a = model(ids, recording_select(4, losses))
        b = model(ids, dsa_select(4))
    assert len(losses) == len(model.layers)
    torch.testing.assert_close(a, b)


def test_sparse_training_lowers_the_lm_loss_and_moves_both_parts(tiny_model, tiny_cfg):
    model = _with_indexers(tiny_model, tiny_cfg)
    windows = _windows()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    logs = list(
        train_sparse(model, windows, topk=4, steps=30, lr=3e-3, indexer_lr=1e-2, batch_size=6, log_every=10)
    )
    assert [l["step"] for l in logs] == [10, 20, 30]
    assert set(logs[0]) == {"step", "steps", "lm_loss", "indexer_loss", "seconds"}
    assert logs[-1]["lm_loss"] < logs[0]["lm_loss"]
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert any(".indexer." in n for n in changed) and any(".indexer." not in n for n in changed)
    assert not any(p.requires_grad for p in model.parameters()) and not model.training


def test_dense_control_leaves_the_indexers_alone(tiny_model, tiny_cfg):
    model = _with_indexers(tiny_model, tiny_cfg)
    before = {n: p.detach().clone() for n, p in model.named_parameters() if ".indexer." in n}
    logs = list(train_sparse(model, _windows(), steps=5, lr=1e-3, dense=True, log_every=5))
    assert logs[-1]["indexer_loss"] is None
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters() if ".indexer." in n)


def test_micro_batches_give_the_same_gradients_as_one_batch(tiny_model, tiny_cfg):
    # Gradients, not parameters after optimiser steps: Adam divides by the root of tiny second moments,
    # so a change of summation order (another CPU, another thread count) would become an lr-sized change.
    import copy

    from dsa_core.train.stage2 import accumulate_gradients

    a = _with_indexers(tiny_model, tiny_cfg)
    b = copy.deepcopy(a)
    batch = _windows()[:6]
    losses = [accumulate_gradients(m, batch, topk=4, micro_batch=micro) for m, micro in ((a, None), (b, 2))]
    assert losses[0][0] == pytest.approx(losses[1][0], rel=1e-5)
    assert losses[0][1] == pytest.approx(losses[1][1], rel=1e-5)
    grads = [(n, pa.grad, pb.grad) for (n, pa), pb in zip(a.named_parameters(), b.parameters())]
    assert all(ga is not None for _, ga, _ in grads)
    for name, ga, gb in grads:
        scale = ga.abs().max().item() + 1e-12
        torch.testing.assert_close(gb, ga, atol=1e-5 * scale, rtol=1e-4, msg=name)
