"""dsa_core: DeepSeek Sparse Attention (DSA), readable.

Shape legend (DeepSeek's letters): B batch, S query positions, T key positions (S = T in prefill),
H attention heads, H_kv key/value heads, D head dim, Dv value dim, K selected tokens (index_topk);
inside indexer.py, h = indexer heads and d = indexer head dim.
"""
from .config import DSAConfig, PRESETS, SMOLLM2_HOST, TEACHING, V32_671B
from .rope import apply_rope_half, rope_cos_sin
from .dense import attention_probs, causal_mask, dense_attention
from .indexer import LightningIndexer, index_scores
from .topk import select_topk, topk_mask
from .sparse import masked_sparse_attention, sparse_attention, sparse_attention_probs
