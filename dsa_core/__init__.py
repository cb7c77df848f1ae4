"""dsa_core: DeepSeek Sparse Attention (DSA), readable.

Shape legend (DeepSeek's letters): B batch, S query positions, T key positions (S = T in prefill),
H attention heads, H_kv key/value heads, D head dim, Dv value dim, K selected tokens (index_topk);
inside indexer.py, h = indexer heads and d = indexer head dim.
"""

from dsa_core.chunked import chunked_index_topk
from dsa_core.config import PRESETS, SMOLLM2_HOST, TEACHING, V32_671B, DSAConfig
from dsa_core.dense import attention_probs, causal_mask, dense_attention
from dsa_core.dsa import DSATrace, dsa_attention, dsa_decode
from dsa_core.indexer import LightningIndexer, index_scores
from dsa_core.metrics import attention_recall, oracle_topk, random_topk, topk_overlap, window_topk
from dsa_core.rope import apply_rope_half, rope_cos_sin
from dsa_core.sparse import masked_sparse_attention, sparse_attention, sparse_attention_probs
from dsa_core.topk import select_topk, topk_mask
from dsa_core.toy import toy_hidden, toy_indexer_inputs, toy_layer, toy_qkv
# optional, not imported here: dsa_core.fp8 (FP8 + Hadamard simulation)
