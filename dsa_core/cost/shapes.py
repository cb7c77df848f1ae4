"""The few numbers that decide attention cost, and the shapes the project prices (no torch).

`AttnShape` holds them; `shape_from_config` reads them off any DSAConfig, in MLA's MHA mode (head dims
as configured, 671B: 192/128) or its absorbed MQA mode over the latent (576/512). The presets: the
671B in both modes, the SmolLM2 host with its indexer, the teaching preset and the CPU bench's T1.
What each costs: flops.py (which re-exports these names: docs/cost.md calls them cost.V32_MQA, ...).
"""

from dataclasses import dataclass

from dsa_core import config


@dataclass(frozen=True)
class AttnShape:
    """The few numbers that decide attention cost. Names follow DSAConfig where they exist."""

    name: str
    n_heads: int  # h, query heads
    qk_head_dim: int  # d_qk (MLA: 192 in MHA mode, 576 in MQA/absorbed mode)
    v_head_dim: int  # d_v  (MLA: 128 in MHA mode, 512 in MQA mode)
    index_n_heads: int  # H_I
    index_head_dim: int  # d_I
    index_topk: int  # k
    n_layers: int = 1
    kv_fp8_dims: int = 0  # cached values per token stored FP8 (+ one fp32 scale per 128)
    kv_plain_dims: int = 0  # cached values per token that stay bf16 (MLA's RoPE part)


def shape_from_config(cfg, mode="mha", name=None):
    """AttnShape from a DSAConfig. mode 'mha': head_dim / v_head_dim as configured (671B: 192/128,
    MLA's MHA mode); 'mqa': MLA's absorbed mode over the latent, d_qk = kv_lora + rope, d_v = kv_lora."""
    lat, rope = cfg.kv_lora_rank, cfg.qk_rope_head_dim
    if mode == "mqa" and not lat:
        raise ValueError("mode='mqa' needs an MLA config (kv_lora_rank > 0)")
    dqk, dv = (lat + rope, lat) if mode == "mqa" else (cfg.head_dim, cfg.v_head_dim)
    # what is cached per token: MLA keeps the latent + RoPE key (whatever the mode), GQA keeps K and V
    fp8, plain = (lat, rope) if lat else (cfg.n_kv_heads * (cfg.head_dim + cfg.v_head_dim), 0)
    return AttnShape(
        name or f"custom ({mode})",
        cfg.n_heads,
        dqk,
        dv,
        cfg.index_n_heads,
        cfg.index_head_dim,
        cfg.index_topk,
        cfg.n_layers,
        fp8,
        plain,
    )


V32_MQA = shape_from_config(config.V32_671B, "mqa", "V3.2 671B, MLA MQA mode (576/512)")
V32_MHA = shape_from_config(config.V32_671B, "mha", "V3.2 671B, MLA MHA mode (192/128)")
SMOLLM2 = shape_from_config(config.SMOLLM2_HOST, "mha", "SmolLM2-135M host + indexer")
TEACHING_SHAPE = shape_from_config(config.TEACHING, "mha", "teaching preset")
# Teaching config T1 (MQA, h = 8, D = 64, indexer 4 x 32, k = 128): the CPU bench default (docs/cost.md).
T1 = AttnShape("teaching T1", 8, 64, 64, 4, 32, 128, 1, 2 * 64, 0)
SHAPES = {s.name: s for s in (V32_MQA, V32_MHA, SMOLLM2, TEACHING_SHAPE, T1)}
