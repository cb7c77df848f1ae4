"""A readable Llama-family decoder (SmolLM2, Llama, Qwen2, Mistral) whose attention step is pluggable.

Per layer: h += Attention(RMSNorm(h)); h += SwiGLU(RMSNorm(h)); then logits = W_out RMSNorm(h).
The attention step is where DSA plugs in. With `select=None` every query attends to all its causal
keys (dense). Otherwise `select(attn, x, q, k)` returns the K key positions each query may see, and
the same gathered `sparse_attention` runs: with `host/selects.py`'s `dsa_select` the layer's own lightning
indexer picks them (DeepSeek-V3.2-Exp: indexer -> top-k -> sparse attention, in every layer), with
`host/selects.py`'s `window_select` or `random_select` a baseline with the same budget K does.
Decoding: with a `KVCache` the model runs only the S new tokens. Each layer appends their keys and values
(after RoPE) to its `LayerCache` and attends over all T cached ones; the select then receives the layer's
cache as a fifth argument, `select(attn, x, q, k, cache)`, and keeps the indexer's own key cache there
(`host/generate.py` has such selects, and the generation loop).
Weights keep Hugging Face's Llama names (minus "model."), so HF folders and our GGUF cache load as is.
Sources: karpathy/nanoGPT `model.py` (layout), transformers `models/llama/modeling_llama.py` (semantics),
deepseek-ai/DeepSeek-V3.2-Exp `inference/model.py` (`MLA.kv_cache`, `Indexer.k_cache`, `start_pos`).
Left out: paged and quantised (FP8) caches, batched prompts of different lengths, dropout, Mistral's
sliding-window mask, RoPE scaling (YaRN, llama3).
"""

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from dsa_core.config import SMOLLM2_HOST
from dsa_core.dense import causal_mask, dense_attention
from dsa_core.fast.cpu import sparse_attention_chunked
from dsa_core.rope import apply_rope_half, rope_cos_sin
from dsa_core.sparse import sparse_attention


@dataclass(frozen=True)
class ModelConfig:
    """The host's sizes. Defaults: SmolLM2-135M, read from config.SMOLLM2_HOST (the one description of
    this model, which the indexers and the cost model use too) plus the fields only a decoder needs."""

    arch: str = "llama"  # "llama" (SmolLM2, Llama, Mistral) or "qwen2" (adds q/k/v biases)
    vocab_size: int = SMOLLM2_HOST.vocab_size
    dim: int = SMOLLM2_HOST.dim  # hidden size
    n_layers: int = SMOLLM2_HOST.n_layers
    n_heads: int = SMOLLM2_HOST.n_heads  # H query heads
    n_kv_heads: int = SMOLLM2_HOST.n_kv_heads  # H_kv key/value heads (GQA: H_kv divides H)
    head_dim: int = SMOLLM2_HOST.head_dim  # D
    hidden_dim: int = 1536  # SwiGLU inner size
    rope_theta: float = SMOLLM2_HOST.rope_theta
    norm_eps: float = 1e-5
    max_seq_len: int = SMOLLM2_HOST.max_seq_len  # context length the model was trained for
    qkv_bias: bool = False  # Qwen2
    tie_embeddings: bool = True  # lm_head shares the token embedding matrix (SmolLM2)


@dataclass
class LayerCache:
    """What one layer keeps between decode steps: its keys and values after RoPE, written in place into
    buffers of a fixed capacity (no copy of the past per step), and its lightning indexer's keys."""

    k: torch.Tensor  # [B, capacity, H_kv, D]
    v: torch.Tensor  # [B, capacity, H_kv, D]
    length: int = 0  # tokens cached so far
    index_buffer: torch.Tensor | None = None  # [B, capacity, d] the indexer's keys (a DSA select fills it)
    index_length: int = 0  # index keys cached so far

    @property
    def index_k(self):
        """The indexer's key cache so far, [B, T, d] (a view), or None where no indexer ran."""
        return None if self.index_buffer is None else self.index_buffer[:, : self.index_length]

    def append_index(self, k):
        """Store the S new tokens' indexer keys after the cached ones: k [B,S,d] -> all T of them [B,T,d]."""
        T = self.index_length + k.shape[1]
        if self.index_buffer is None:  # the first call: a buffer as long as the KV cache
            self.index_buffer = k.new_zeros(k.shape[0], self.k.shape[1], k.shape[2])  # [B, capacity, d]
        if T > self.index_buffer.shape[1]:
            raise ValueError(f"the cache holds {self.index_buffer.shape[1]} tokens; {T} do not fit")
        self.index_buffer[:, self.index_length : T] = k
        self.index_length = T
        return self.index_buffer[:, :T]  # [B, T, d] a view, no copy

    def append(self, k, v):
        """Store the S new tokens' keys and values after the cached ones: -> all T of them [B,T,H_kv,D]."""
        T = self.length + k.shape[1]
        if T > self.k.shape[1]:
            raise ValueError(f"the cache holds {self.k.shape[1]} tokens; {T} do not fit (make a larger one)")
        self.k[:, self.length : T] = k
        self.v[:, self.length : T] = v
        self.length = T
        return self.k[:, :T], self.v[:, :T]  # [B, T, H_kv, D] views, no copy


@dataclass
class KVCache:
    """The decode state of the whole model: one LayerCache per layer."""

    layers: list

    @property
    def length(self):
        return self.layers[0].length

    def truncate(self, n):
        """Forget every token after the first n (a later step overwrites them): a rollback."""
        for c in self.layers:
            c.length, c.index_length = min(c.length, n), min(c.index_length, n)

    def nbytes(self):
        """{'kv': bytes held for keys and values, 'index': bytes of the indexer keys so far}."""
        kv = sum(c.k.nbytes + c.v.nbytes for c in self.layers)
        return {"kv": kv, "index": sum(c.index_k.nbytes for c in self.layers if c.index_k is not None)}


class RMSNorm(nn.Module):
    """x / rms(x) * weight, computed in fp32 (Zhang & Sennrich 2019)."""

    def __init__(self, dim, eps):
        super().__init__()
        self.eps, self.weight = eps, nn.Parameter(torch.ones(dim))

    def forward(self, x):
        x32 = x.float()
        return self.weight * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype)


class MLP(nn.Module):
    """SwiGLU feed-forward: down(silu(gate(x)) * up(x)) (Shazeer 2020)."""

    def __init__(self, cfg):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.dim, cfg.hidden_dim, bias=False)
        self.up_proj = nn.Linear(cfg.dim, cfg.hidden_dim, bias=False)
        self.down_proj = nn.Linear(cfg.hidden_dim, cfg.dim, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


def fused_dense_attention(q, k, v):
    """= dense.dense_attention(q, k, v) (the readable oracle; tests check they agree to 1e-5), run by
    torch's fused kernel: about 3x faster on CPU and it never builds a [T,T] matrix.
    q [B,S,H,D], k/v [B,T,H_kv,D] -> [B,S,H,D]; query s sits at position T - S + s (S < T: decoding)."""
    S, T = q.shape[1], k.shape[1]
    # torch's is_causal aligns the mask top-left (query s sees keys <= s), right only when S == T; one
    # new token sees every cached key (no mask); a few new ones get dense.causal_mask's bottom-right mask.
    mask = None if S == T or S == 1 else causal_mask(S, T, q.device)  # [S, T]
    y = F.scaled_dot_product_attention(
        q.transpose(1, 2),
        k.transpose(1, 2),
        v.transpose(1, 2),
        attn_mask=mask,
        is_causal=mask is None and S > 1,
        enable_gqa=True,
    )  # [B,H,S,D]
    return y.transpose(1, 2)  # [B,S,H,D]


class Attention(nn.Module):
    """Grouped-query attention with RoPE; the key selection is a plug-in (see the module docstring)."""

    def __init__(self, cfg, layer_id):
        super().__init__()
        H, H_kv, D = cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
        self.layer_id, self.H, self.H_kv, self.D = layer_id, H, H_kv, D
        self.q_proj = nn.Linear(cfg.dim, H * D, bias=cfg.qkv_bias)
        self.k_proj = nn.Linear(cfg.dim, H_kv * D, bias=cfg.qkv_bias)
        self.v_proj = nn.Linear(cfg.dim, H_kv * D, bias=cfg.qkv_bias)
        self.o_proj = nn.Linear(H * D, cfg.dim, bias=False)
        self.indexer = None  # this layer's LightningIndexer, once attach_indexers() has run
        self.fast = True  # run the tested twins of dense and sparse attention (False: the reference)

    def forward(self, x, cos, sin, select=None, cache=None):
        """x [B,S,dim] (normed) -> out [B,S,dim], and (q, k, v, topk_indices) for traces.

        Without a cache S = T (the whole text). With one, x holds the S new tokens: their keys and
        values join the cache and the queries attend over all T = cached + S (k, v [B,T,H_kv,D])."""
        B, S, _ = x.shape
        q = apply_rope_half(self.q_proj(x).view(B, S, self.H, self.D), cos, sin)  # [B,S,H,D]
        k = apply_rope_half(self.k_proj(x).view(B, S, self.H_kv, self.D), cos, sin)  # [B,S,H_kv,D]
        v = self.v_proj(x).view(B, S, self.H_kv, self.D)  # [B,S,H_kv,D]
        if cache is not None:
            k, v = cache.append(k, v)  # every token so far [B,T,H_kv,D]

        # ============ the plug-in point: which keys may each query attend to? ============
        if select is None:
            topk_indices = None
        elif cache is None:
            topk_indices = select(self, x, q, k)  # [B,S,K], -1 = empty slot
        else:  # decoding: the select also keeps the indexer's key cache in `cache`
            topk_indices = select(self, x, q, k, cache)  # [B,S,K] positions among the T cached
        if topk_indices is None:  # dense: every causal key s <= t
            y = fused_dense_attention(q, k, v) if self.fast else dense_attention(q, k, v)  # [B,S,H,D]
        elif self.fast:  # DSA (or a baseline): only K keys per query, in cache-sized query chunks
            y = sparse_attention_chunked(q, k, v, topk_indices)  # = sparse_attention  [B,S,H,D]
        else:  # the reference gathers every query's K keys at once
            y = sparse_attention(q, k, v, topk_indices)  # [B,S,H,D]
        # ==================================================================================

        return self.o_proj(y.reshape(B, S, self.H * self.D)), (q, k, v, topk_indices)  # [B,S,dim]


class Block(nn.Module):
    def __init__(self, cfg, layer_id):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.self_attn = Attention(cfg, layer_id)
        self.post_attention_layernorm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, h, cos, sin, select=None, cache=None):
        x = self.input_layernorm(h)  # the attention input (and the indexer's input)
        a, qkv = self.self_attn(x, cos, sin, select, cache)
        h = h + a
        return h + self.mlp(self.post_attention_layernorm(h)), (x, *qkv)


class Transformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.layers = nn.ModuleList(Block(cfg, i) for i in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.lm_head = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.embed_tokens.weight

    def new_cache(self, capacity, batch=1):
        """An empty KVCache for up to `capacity` tokens (prompt + generated), float32 like the weights."""
        shape = (batch, capacity, self.cfg.n_kv_heads, self.cfg.head_dim)
        dev = self.embed_tokens.weight.device
        return KVCache(
            [LayerCache(torch.zeros(shape, device=dev), torch.zeros(shape, device=dev)) for _ in self.layers]
        )

    def hidden(self, idx, select=None, keep=(), stop_after=None, resume=None, save=None, cache=None):
        """idx [B,S] -> (final normed hidden state [B,S,dim], {layer: (x, q, k, v, topk_indices)}).

        Only layers in `keep` are recorded. With stop_after=l the run ends after layer l (a trace of
        layer l needs no more) and the hidden state returned is None. Checkpoints, for a later run on
        the same idx: save is a dict whose keys name layers; it receives the residual stream h [B,S,dim]
        entering each of them. resume=(i, h) starts at layer i from such an h (layers before i skipped).
        cache: a KVCache; idx are then the S tokens after the cache.length already in it (prefill: an
        empty cache and the whole prompt; a decode step: one token), and the cache grows by S.
        """
        B, S = idx.shape
        start = 0 if cache is None else cache.length  # position of the first new token
        cos, sin = rope_cos_sin(
            torch.arange(start, start + S, device=idx.device), self.cfg.head_dim, self.cfg.rope_theta
        )  # [S,D]
        first, h = resume if resume is not None else (0, self.embed_tokens(idx))  # [B,S,dim]
        acts = {}
        for i, block in enumerate(self.layers):
            if i < first:
                continue
            if save is not None and i in save:
                save[i] = h
            h, layer_acts = block(h, cos, sin, select, None if cache is None else cache.layers[i])
            if i in keep:
                acts[i] = layer_acts
            if i == stop_after:
                return None, acts
        return self.norm(h), acts

    def forward(self, idx, select=None, cache=None):
        """idx [B,S] -> logits [B,S,V] (with a cache: of the S tokens after the cached ones)."""
        return self.lm_head(self.hidden(idx, select, cache=cache)[0])  # [B,S,V]


def attach_indexers(model, indexers):
    """Give each layer its own lightning indexer: a list with one LightningIndexer (or None) per layer."""
    if len(indexers) != len(model.layers):
        raise ValueError(f"need one indexer per layer ({len(model.layers)}), got {len(indexers)}")
    for block, indexer in zip(model.layers, indexers):
        block.self_attn.indexer = indexer
    return model
