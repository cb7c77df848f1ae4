"""The 671B preset equals the official config; the small presets are consistent."""

import dataclasses

import pytest

from dsa_core import PRESETS, SMOLLM2_HOST, TEACHING, V32_671B, DSAConfig

# inference/config_671B_v3.2.json plus ModelArgs defaults (docs/sources.md §2)
OFFICIAL_671B = dict(
    vocab_size=129280,
    dim=7168,
    n_layers=61,
    n_heads=128,
    q_lora_rank=1536,
    kv_lora_rank=512,
    qk_nope_head_dim=128,
    qk_rope_head_dim=64,
    v_head_dim=128,
    index_n_heads=64,
    index_head_dim=128,
    index_topk=2048,
    rope_theta=10000.0,
    rope_factor=40.0,
    original_seq_len=4096,
    beta_fast=32,
    beta_slow=1,
    mscale=1.0,
    scale_fmt="ue8m0",
)


def test_671b_preset_equals_the_official_config_values():
    for name, value in OFFICIAL_671B.items():
        assert getattr(V32_671B, name) == value, name
    assert V32_671B.head_dim == V32_671B.qk_nope_head_dim + V32_671B.qk_rope_head_dim
    assert V32_671B.index_rope_dim == V32_671B.qk_rope_head_dim == 64
    assert V32_671B.uses_query_latent


def test_smollm2_host_describes_the_real_model():
    c = SMOLLM2_HOST
    assert (c.dim, c.n_heads, c.n_kv_heads, c.head_dim, c.n_layers) == (576, 9, 3, 64, 30)
    assert c.rope_theta == 100000.0 and c.q_lora_rank == 0 and not c.uses_query_latent
    assert (c.index_n_heads, c.index_head_dim, c.index_topk) == (4, 64, 128)
    assert c.index_rope_dim == c.qk_rope_head_dim == 64  # the official rule; files record their own


def test_presets_are_frozen_and_listed():
    assert set(PRESETS.values()) == {V32_671B, TEACHING, SMOLLM2_HOST}
    with pytest.raises(dataclasses.FrozenInstanceError):
        TEACHING.index_topk = 3
    assert dataclasses.replace(TEACHING, index_topk=8).index_topk == 8


@pytest.mark.parametrize(
    "bad",
    [
        dict(n_heads=9, n_kv_heads=2),
        dict(index_topk=0),
        dict(index_rope_head_dim=3),
        dict(index_rope_head_dim=256),
    ],
)
def test_inconsistent_configs_raise_value_error(bad):
    with pytest.raises(ValueError):
        DSAConfig(**bad)
