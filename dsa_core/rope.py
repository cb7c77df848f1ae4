"""Rotary position embedding (RoPE), rotate-half layout, applied to the leading dims of a vector.

Formula (NeoX / "rotate-half", non-interleaved): with r rotated dims and i < r/2, dim i pairs with
dim i + r/2:   y[i] = x[i] cos(p θ_i) - x[i+r/2] sin(p θ_i),
               y[i+r/2] = x[i] sin(p θ_i) + x[i+r/2] cos(p θ_i),
θ_i = theta^(-2i/r). The indexer rotates the FIRST r dims of each head (671B: 64 of 128) and leaves the
rest untouched; a Llama attention head passes r = D and rotates everything.
Official: deepseek-ai/DeepSeek-V3.2-Exp `inference/model.py`, `apply_rotary_emb` called from
`Indexer.forward`. The first demo (Sept 2025) used the interleaved layout here by mistake; the fix of
2025-11-17 made the indexer non-interleaved, which is what this file does.
Left out: YaRN. In the official `precompute_freqs_cis` the YaRN frequencies (factor 40) are chosen
once, when the configured maximum length `max_seq_len` exceeds `original_seq_len` = 4096, so the 671B
model rotates EVERY position with YaRN frequencies, short texts included; MLA (not the indexer) also
multiplies its softmax scale by mscale² (mscale = 0.1·ln 40 + 1), giving 192^-0.5 · mscale² ≈ 0.1352
instead of 192^-0.5 ≈ 0.0722 (`MLA.__init__`). We use plain RoPE frequencies: the small hosts we run
(SmolLM2) were trained with plain RoPE, and the teaching configs are not checkpoints of the 671B model.
"""

import torch


def rope_cos_sin(positions, dim, theta=10000.0):
    """cos and sin tables for absolute positions: positions [T] (ints) -> cos, sin [T, dim] fp32."""
    if dim % 2:
        raise ValueError(f"RoPE dim must be even, got {dim}")
    inv_freq = theta ** (
        -torch.arange(0, dim, 2, dtype=torch.float64, device=positions.device) / dim
    )  # [dim/2]
    angles = positions.to(torch.float64)[..., None] * inv_freq  # [T, dim/2]
    angles = torch.cat([angles, angles], dim=-1)  # [T, dim]
    return angles.cos().float(), angles.sin().float()


def rotate_half(x):
    """(x1, x2) -> (-x2, x1) on the last dim: [..., r] -> [..., r]."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def apply_rope_half(x, cos, sin):
    """Rotate the first r = cos.shape[-1] dims of x at the positions of its dim 1; keep the rest.

    x [B, T, ..., Dx] (e.g. [B,T,h,d] queries or [B,T,d] keys), cos/sin [T, r] or [B, T, r] -> like x.
    """
    r = cos.shape[-1]
    if r > x.shape[-1]:
        raise ValueError(f"RoPE dims {r} exceed the vector size {x.shape[-1]}")
    if cos.dim() == 2:
        cos, sin = cos[None], sin[None]  # [1, T, r]
    extra = (1,) * (x.dim() - 3)  # head dims between T and the vector dim
    cos = cos.reshape(*cos.shape[:2], *extra, r)  # [B|1, T, 1.., r]
    sin = sin.reshape(*sin.shape[:2], *extra, r)
    x_pe, x_nope = x[..., :r].float(), x[..., r:]  # RoPE part first, as in the fixed official code
    x_pe = x_pe * cos + rotate_half(x_pe) * sin
    return torch.cat([x_pe.to(x.dtype), x_nope], dim=-1)
