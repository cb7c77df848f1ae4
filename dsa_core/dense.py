"""Rung 0: dense causal attention, the oracle every sparse rung is tested against.

Formula: out[s,h] = Σ_{t ≤ pos(s)} softmax_t(scale · q[s,h]·k[t,h']) v[t,h'],  h' = h // (H / H_kv).
Queries may be fewer than keys (S ≤ T, decode against a cache): query s sits at position T - S + s.
Paper: DeepSeek-V3.2-Exp report, section 1, "Instantiate DSA Under MLA" (the dense MLA that DSA starts from).
Official: deepseek-ai/DeepSeek-V3.2-Exp `inference/model.py`, `MLA.forward`, the "MHA prefill" branch,
`einsum("bshd,bthd->bsht")`, softmax, `einsum("bsht,bthd->bshd")`, minus the index mask that branch
adds. At commit 3b99a53 (2025-10-02) the scores and the softmax are fp32 (`q.float()`,
`softmax(dtype=torch.float32)`), the probabilities cast back to bf16 for the value sum; from 8631a81
(2025-11-17) the scores and softmax stay in the activation dtype (bf16) and the cached latent is first
rounded through FP8 to mimic deployment. This file computes everything in fp32.
Left out: MLA's latent projections and the absorbed decode form; we take per-head q, k, v as given,
with GQA (H_kv < H) so Llama-family hosts and MQA (H_kv = 1) fit the same code.
"""

import torch

from dsa_core._checks import check_qkv


def causal_mask(S, T, device=None):
    """True where query s may see key t, i.e. t ≤ T - S + s: -> bool [S, T]."""
    query_pos = torch.arange(T - S, T, device=device)  # [S]
    return torch.arange(T, device=device)[None, :] <= query_pos[:, None]  # [S, T]


def attention_logits(q, k, scale=None):
    """Scaled dot products, no mask: q [B,S,H,D], k [B,T,H_kv,D] -> fp32 [B,H,S,T]."""
    B, S, H, D = q.shape
    T, H_kv = k.shape[1], k.shape[2]
    scale = D**-0.5 if scale is None else scale
    q = q.float().view(B, S, H_kv, H // H_kv, D)  # query head h = n * G + g uses kv head n [B,S,H_kv,G,D]
    logits = torch.einsum("bsngd,btnd->bngst", q, k.float()) * scale  # [B,H_kv,G,S,T]
    return logits.reshape(B, H, S, T)  # [B, H, S, T]


def mix_values(probs, v):
    """Weight the values by attention probabilities: probs [B,H,S,T], v [B,T,H_kv,Dv] -> [B,S,H,Dv]."""
    B, H, S, T = probs.shape
    H_kv, Dv = v.shape[2], v.shape[3]
    probs = probs.view(B, H_kv, H // H_kv, S, T)  # [B,H_kv,G,S,T]
    out = torch.einsum("bngst,btnd->bsngd", probs, v.float())  # [B,S,H_kv,G,Dv]
    return out.reshape(B, S, H, Dv).to(v.dtype)  # [B, S, H, Dv]


def attention_probs(q, k, scale=None):
    """Causal softmax attention pattern: q [B,S,H,D], k [B,T,H_kv,D] -> fp32 [B,H,S,T]."""
    check_qkv(q, k)
    logits = attention_logits(q, k, scale)  # [B, H, S, T]
    S, T = logits.shape[-2:]
    logits = logits.masked_fill(~causal_mask(S, T, q.device), float("-inf"))
    return logits.softmax(dim=-1)


def dense_attention(q, k, v, scale=None):
    """Dense causal attention: q [B,S,H,D], k [B,T,H_kv,D], v [B,T,H_kv,Dv] -> [B,S,H,Dv]."""
    check_qkv(q, k, v)
    return mix_values(attention_probs(q, k, scale), v)  # [B, S, H, Dv]
