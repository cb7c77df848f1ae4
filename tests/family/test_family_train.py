"""Stage 1 for a compressed-key indexer (family/train.py) on a tiny random model: the pooled target is
a distribution over the complete groups only, c = 1 is the plain stage-1 loss, and training lowers it."""

import torch

from dsa_core.dense import attention_probs
from dsa_core.family import train as family_train
from dsa_core.host.model import attach_indexers
from dsa_core.indexer import index_scores
from dsa_core.train.losses import dense_warmup_loss
from dsa_core.train.stage1 import layer_inputs, main_qk, make_indexers


def test_pooled_target_covers_complete_groups_only():
    p = torch.softmax(torch.randn(1, 3, 10), -1)  # queries at positions 7, 8, 9 of 10 keys
    p = p.masked_fill(torch.arange(10)[None, None, :] > torch.arange(7, 10)[None, :, None], 0.0)
    t = family_train.pooled_target(p, 4)  # groups 0 (0-3) and 1 (4-7); group 2 would need keys 8-11
    assert t.shape == (1, 3, 2)
    assert torch.allclose(t.sum(-1), torch.ones(1, 3))
    assert (t > 0).all()  # at position 7 group 1 (4-7) is complete already


def test_c1_is_the_stage1_loss_and_training_lowers_it(tiny_model, tiny_cfg):
    model = attach_indexers(tiny_model, list(make_indexers(tiny_cfg, range(2)).values()))
    ids = torch.randint(0, 64, (2, 48), generator=torch.Generator().manual_seed(0))
    x = layer_inputs(model, ids, [1])
    ind = model.layers[1].self_attn.indexer
    loss1 = family_train.compressed_step(model, 1, ind, x[1], 16, 1)[0]
    q, k = main_qk(model, 1, x[1])
    qi, ki, w = ind.project(x[1])
    want = dense_warmup_loss(index_scores(qi[:, -16:], ki, w[:, -16:]), attention_probs(q[:, -16:], k))
    assert torch.allclose(loss1, want, atol=1e-5)
    before = family_train.compressed_step(model, 1, ind, x[1], 16, 4)[0].item()
    log = list(
        family_train.train_compressed(model, {1: ind}, x, c=4, steps=40, lr=1e-2, n_queries=16, topk=8)
    )
    assert len(log) == 4 and log[-1]["step"] == 40
    assert family_train.compressed_step(model, 1, ind, x[1], 16, 4)[0].item() < before  # the same window
    assert 0 < family_train.compressed_recall(model, 1, ind, x[1][:1], 4, 8) <= 1 + 1e-6
