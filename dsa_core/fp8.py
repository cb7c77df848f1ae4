"""Optional FP8 simulation of the indexer: the Hadamard rotation and e4m3 block-128 quantisation.

Production runs the indexer in FP8. Before quantising, q and k are rotated by x -> x·H_d/√d (H_d the
Sylvester Walsh-Hadamard matrix) to spread outliers over all dims; the rotation is orthonormal, so q·k
is unchanged in exact arithmetic. Quantisation (`act_quant`): blocks of 128 along the last dim,
amax floored at 1e-4, scale = amax/448 (rounded UP to a power of two for the "ue8m0" format), values
clamped to ±448 and cast to float8 e4m3. Official: deepseek-ai/DeepSeek-V3.2-Exp `inference/model.py`
(`rotate_activation`, `Indexer.forward`) and `inference/kernel.py` (`act_quant`, `fp8_index`).
Here the cast goes to torch.float8_e4m3fn and straight back to fp32, so the rounding is real while the
arithmetic stays fp32. The math files never import this module: callers compose it from outside.
"""

import torch

from dsa_core.indexer import index_scores

FP8_MAX = 448.0  # largest finite float8 e4m3fn value
BLOCK_SIZE = 128  # the demo's `block_size`


def hadamard_matrix(n):
    """Sylvester's construction H_{2n} = [[H, H], [H, -H]]: -> fp32 [n, n], entries ±1 (n a power of 2)."""
    if n <= 0 or n & (n - 1):
        raise ValueError(f"Hadamard size must be a power of two, got {n}")
    H = torch.ones(1, 1)
    while H.shape[0] < n:
        H = torch.cat([torch.cat([H, H], dim=1), torch.cat([H, -H], dim=1)], dim=0)  # [2m, 2m]
    return H


def hadamard(x):
    """The orthonormal rotation x -> x·H_d/√d on the last dim (`rotate_activation`): [..., d] -> [..., d]."""
    d = x.shape[-1]
    return (x.float() @ hadamard_matrix(d).to(x.device)) * d**-0.5


def act_quant(x, block_size=BLOCK_SIZE, ue8m0=True):
    """Quantise to e4m3 in blocks of the last dim: x [..., n] -> (x_fp8 as fp32 [..., n], scale [..., n/b]).

    b = min(block_size, n); ue8m0 rounds each scale up to a power of two, as the 671B config does.
    """
    n = x.shape[-1]
    block = min(block_size, n)  # a head smaller than 128 dims is one block
    if n % block:
        raise ValueError(f"last dim {n} is not a multiple of the block size {block}")
    blocks = x.float().reshape(*x.shape[:-1], n // block, block)  # [..., n/block, block]
    amax = blocks.abs().amax(dim=-1).clamp(min=1e-4)  # [..., n/block]
    scale = amax / FP8_MAX
    if ue8m0:  # power-of-two scale, rounded up so that x/scale stays within ±448
        scale = torch.exp2(torch.ceil(torch.log2(scale)))
    q = (blocks / scale[..., None]).clamp(-FP8_MAX, FP8_MAX)
    q = q.to(torch.float8_e4m3fn).float()  # the real e4m3 rounding, then back to fp32 to compute
    return q.reshape(x.shape), scale


def fp8_quant_dequant(x, ue8m0=True, block_size=BLOCK_SIZE):
    """Round-trip through e4m3: what the FP8 path "sees" instead of x: [..., n] -> [..., n] fp32."""
    q, scale = act_quant(x, block_size, ue8m0)
    n = x.shape[-1]
    block = min(block_size, n)
    q = q.reshape(*x.shape[:-1], n // block, block) * scale[..., None]  # [..., n/block, block]
    return q.reshape(x.shape)


def fp8_index_scores(q, k, w, ue8m0=True, rotate=True):
    """The demo's scale-folded FP8 index score: q [B,S,h,d], k [B,T,d], w [B,S,h] -> fp32 [B,S,T].

    As in `Indexer.forward` + `fp8_index`: the q scale is folded into the weights before the head
    sum (ReLU is positively homogeneous), the k scale multiplies the result after it.
    """
    if q.shape[-1] > BLOCK_SIZE:
        raise ValueError(f"the folded form needs one scale per head: head dim {q.shape[-1]} > {BLOCK_SIZE}")
    if rotate:
        q, k = hadamard(q), hadamard(k)
    q_fp8, q_scale = act_quant(q, ue8m0=ue8m0)  # [B,S,h,d], [B,S,h,1]
    k_fp8, k_scale = act_quant(k, ue8m0=ue8m0)  # [B,T,d],   [B,T,1]
    weights = w.float() * q_scale[..., 0]  # [B, S, h]
    return index_scores(q_fp8, k_fp8, weights) * k_scale[..., 0][:, None, :]  # [B, S, T]


def fp8_index_scores_dequant(q, k, w, ue8m0=True, rotate=True):
    """The same score written plainly: dequantise q and k, then the fp32 index score: -> fp32 [B,S,T]."""
    if rotate:
        q, k = hadamard(q), hadamard(k)
    return index_scores(fp8_quant_dequant(q, ue8m0), fp8_quant_dequant(k, ue8m0), w)
