"""The stage-1 training loop on a tiny random model: gradients, progress, and the yielded keys."""

import torch

from dsa_core.train.stage1 import indexer_step, layer_inputs, make_indexers, train_indexers

KEYS = {"step", "steps", "loss", "recall", "recall_oracle", "overlap", "lr", "seconds", "layers"}


def test_gradients_reach_only_the_indexer(tiny_model, tiny_cfg):
    tiny_model.requires_grad_(True)
    ids = torch.randint(64, (1, 24))
    x = layer_inputs(tiny_model, ids, [1])[1].requires_grad_(True)  # [1, 24, 32]
    indexer = make_indexers(tiny_cfg, [1])[1]
    loss, _, _ = indexer_step(tiny_model, 1, indexer, x, n_queries=8)
    loss.backward()
    assert all(p.grad is None for p in tiny_model.parameters())
    assert x.grad is None  # the indexer input is detached
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in indexer.parameters())


def test_loss_decreases_and_generator_yields_documented_keys(tiny_model, tiny_cfg):
    torch.manual_seed(0)
    inputs = layer_inputs(tiny_model, torch.randint(64, (2, 40)), [0, 1])
    indexers = make_indexers(tiny_cfg, [0, 1])
    log = list(
        train_indexers(
            tiny_model, indexers, inputs, steps=30, lr=1e-2, batch_size=2, n_queries=16, topk=4, log_every=5
        )
    )
    assert [d["step"] for d in log] == list(range(5, 31, 5))
    assert all(set(d) == KEYS and set(d["layers"]) == {0, 1} for d in log)
    assert set(log[-1]["layers"][0]) == {"loss", "recall", "recall_oracle", "overlap"}
    assert log[-1]["loss"] < 0.8 * log[0]["loss"]
    assert all(0 <= d["recall"] <= d["recall_oracle"] + 1e-6 <= 1 + 1e-6 for d in log)


def test_training_leaves_the_model_frozen(tiny_model, tiny_cfg):
    before = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    inputs = layer_inputs(tiny_model, torch.randint(64, (1, 24)), [0])
    for _ in train_indexers(tiny_model, make_indexers(tiny_cfg, [0]), inputs, steps=3, n_queries=8, topk=4):
        pass
    assert all(torch.equal(before[k], v) for k, v in tiny_model.state_dict().items())


def test_fresh_copy_has_the_same_sizes_new_weights_and_leaves_the_original(tiny_cfg):
    from dsa_core.indexer import LightningIndexer
    from dsa_core.train.stage1 import fresh_copy

    torch.manual_seed(3)
    orig = LightningIndexer(tiny_cfg)
    before = {n: p.clone() for n, p in orig.state_dict().items()}
    new = fresh_copy(orig, seed=0)
    assert {n: p.shape for n, p in new.state_dict().items()} == {n: p.shape for n, p in before.items()}
    assert not torch.equal(new.wq_b.weight, orig.wq_b.weight)
    assert all(torch.equal(p, before[n]) for n, p in orig.state_dict().items())
    torch.testing.assert_close(fresh_copy(orig, seed=0).wk.weight, new.wk.weight)  # seeded
