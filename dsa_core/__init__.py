"""dsa_core: DeepSeek Sparse Attention (DSA), readable.

Shape legend (DeepSeek's letters): B batch, S query positions, T key positions (S = T in prefill),
H attention heads, H_kv key/value heads, D head dim, Dv value dim, K selected tokens (index_topk);
inside indexer.py, h = indexer heads and d = indexer head dim.
"""
