"""dsa_core: DeepSeek Sparse Attention (DSA), readable.

Read the reference in this order (about 750 lines; each file opens with its equation from the
DeepSeek-V3.2-Exp report and the official code it follows):
  config.py   the sizes (DeepSeek's field names, the 671B defaults, presets)
  rope.py     rotate-half RoPE, partial for the indexer
  dense.py    rung 0: dense causal attention, the oracle
  indexer.py  the lightning indexer: I[t,s] = Σ_j w[t,j] · ReLU(q[t,j] · k[s])
  topk.py     top-k selection with the causal re-mask (-1 = empty slot)
  pipeline.py the selection pipeline: indexer -> top-k one block of queries at a time (never T×T)
  sparse.py   rung 1 masked-dense, rung 2 gathered: attention over the K selected keys only
  dsa.py      the composed layer: indexer -> top-k -> sparse attention, prefill and decode
  metrics.py  recall of the attention mass, overlap, same-budget baselines
then fp8.py (optional FP8 + Hadamard simulation) and toy.py (seeded toy inputs).
Everything else lives in one folder per concern: host/ (the real model DSA plugs into),
train/ (teaching the indexer, evaluating it), cost/ (what DSA saves), analysis/ (one text
through the model, as arrays), viz/ (figures), fast/ (faster twins, each tested equal).

Shape legend (DeepSeek's letters): B batch, S query positions, T key positions (S = T in prefill),
H attention heads, H_kv key/value heads, D head dim, Dv value dim, K selected tokens (index_topk);
inside indexer.py, h = indexer heads and d = indexer head dim.
"""

from dsa_core.config import PRESETS, SMOLLM2_HOST, TEACHING, V32_671B, DSAConfig
from dsa_core.dense import attention_probs, causal_mask, dense_attention
from dsa_core.dsa import DSATrace, dsa_attention, dsa_decode
from dsa_core.indexer import LightningIndexer, index_scores
from dsa_core.metrics import attention_recall, oracle_topk, random_topk, topk_overlap, window_topk
from dsa_core.pipeline import index_topk, select_keys
from dsa_core.rope import apply_rope_half, rope_cos_sin
from dsa_core.sparse import masked_sparse_attention, sparse_attention, sparse_attention_probs
from dsa_core.topk import select_topk, topk_mask
from dsa_core.toy import toy_hidden, toy_indexer_inputs, toy_layer, toy_qkv
# optional, not imported here: dsa_core.fp8 (FP8 + Hadamard simulation)
