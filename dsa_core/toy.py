"""Seeded toy inputs shared by the tests, the lessons and the notebooks, so everyone sees the same numbers.

Nothing here is DSA math: just random tensors in the shapes of the shape legend (see __init__.py),
drawn from one `torch.Generator` so a seed reproduces them exactly on any machine.
"""

import torch

from dsa_core.config import TEACHING


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def toy_qkv(B=1, T=16, H=4, D=16, H_kv=None, Dv=None, seed=0):
    """Random attention inputs: -> q [B,T,H,D], k [B,T,H_kv,D], v [B,T,H_kv,Dv] (default H_kv = H, Dv = D)."""
    g = _gen(seed)
    H_kv = H if H_kv is None else H_kv
    Dv = D if Dv is None else Dv
    q = torch.randn(B, T, H, D, generator=g)  # [B, T, H, D]
    k = torch.randn(B, T, H_kv, D, generator=g)  # [B, T, H_kv, D]
    v = torch.randn(B, T, H_kv, Dv, generator=g)  # [B, T, H_kv, Dv]
    return q, k, v


def toy_indexer_inputs(B=1, T=16, h=4, d=32, seed=0):
    """Random indexer projections: -> q [B,T,h,d], k [B,T,d], w [B,T,h] (w may be negative, as in a model)."""
    g = _gen(seed)
    q = torch.randn(B, T, h, d, generator=g)  # [B, T, h, d]
    k = torch.randn(B, T, d, generator=g)  # [B, T, d]
    w = torch.randn(B, T, h, generator=g) * (h * d) ** -0.5  # the official scalings, roughly  [B, T, h]
    return q, k, w


def toy_hidden(cfg=TEACHING, B=1, T=16, seed=0):
    """Random hidden states for a LightningIndexer: -> x [B,T,dim], qr [B,T,q_lora_rank] or None."""
    g = _gen(seed)
    x = torch.randn(B, T, cfg.dim, generator=g)  # [B, T, dim]
    qr = torch.randn(B, T, cfg.q_lora_rank, generator=g) if cfg.uses_query_latent else None
    return x, qr


def toy_layer(cfg=TEACHING, B=1, T=16, seed=0):
    """A full toy DSA layer input: -> x, qr, q [B,T,H,D], k [B,T,H_kv,D], v [B,T,H_kv,Dv] from cfg's sizes."""
    x, qr = toy_hidden(cfg, B, T, seed)
    q, k, v = toy_qkv(B, T, cfg.n_heads, cfg.head_dim, cfg.n_kv_heads, cfg.v_head_dim, seed + 1)
    return x, qr, q, k, v
