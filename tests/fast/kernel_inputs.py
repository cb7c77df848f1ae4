"""Inputs shared by the GPU kernel tests (test_kernels.py, test_decode_kernel.py): the device and dtype
they run in (Triton's CPU interpreter with TRITON_INTERPRET=1, else CUDA), and random indexer inputs."""

import os

import torch

INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"
DEV = "cpu" if INTERPRET else "cuda"
DT = torch.float16 if INTERPRET else torch.bfloat16


def indexer_inputs(B, S, T, h, d, seed, integer=False):
    """Random q [B,S,h,d], k [B,T,d], w [B,S,h]; integer=True: small integers, so every score is exact in
    fp32 (and ties abound)."""
    g = torch.Generator().manual_seed(seed)
    if integer:
        q = torch.randint(-2, 3, (B, S, h, d), generator=g).to(DEV, DT)
        k = torch.randint(-2, 3, (B, T, d), generator=g).to(DEV, DT)
        return q, k, torch.randint(1, 4, (B, S, h), generator=g).float().to(DEV)
    return (
        torch.randn(B, S, h, d, generator=g).to(DEV, DT),
        torch.randn(B, T, d, generator=g).to(DEV, DT),
        torch.randn(B, S, h, generator=g).to(DEV),
    )
