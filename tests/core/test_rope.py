"""Rotate-half RoPE: the official `apply_rotary_emb` formula (docs/equations.md), partial, relative."""

import torch

from dsa_core import apply_rope_half, rope_cos_sin


def test_rope_matches_the_rotate_half_formula():
    x = torch.randn(1, 5, 8)
    cos, sin = rope_cos_sin(torch.arange(5), 8, theta=10000.0)
    y = apply_rope_half(x, cos, sin)
    theta = 10000.0 ** (-torch.arange(0, 8, 2, dtype=torch.float64) / 8)
    ang = torch.arange(5, dtype=torch.float64)[:, None] * theta  # [T, 4]
    c, s = ang.cos().float(), ang.sin().float()
    x1, x2 = x[0, :, :4], x[0, :, 4:]
    expect = torch.cat([x1 * c - x2 * s, x1 * s + x2 * c], dim=-1)
    torch.testing.assert_close(y[0], expect)


def test_rope_touches_only_the_first_r_dims_and_keeps_norms():
    x = torch.randn(2, 6, 3, 16)
    cos, sin = rope_cos_sin(torch.arange(6), 8)
    y = apply_rope_half(x, cos, sin)
    torch.testing.assert_close(y[..., 8:], x[..., 8:])
    torch.testing.assert_close(y[..., :8].norm(dim=-1), x[..., :8].norm(dim=-1))


def test_rotated_dot_products_depend_only_on_relative_position():
    q, k = torch.randn(1, 1, 16), torch.randn(1, 1, 16)

    def dot(pq, pk):
        cq, sq = rope_cos_sin(torch.tensor([pq]), 16)
        ck, sk = rope_cos_sin(torch.tensor([pk]), 16)
        return (apply_rope_half(q, cq, sq) * apply_rope_half(k, ck, sk)).sum()

    torch.testing.assert_close(dot(7, 3), dot(104, 100), rtol=1e-4, atol=1e-4)
