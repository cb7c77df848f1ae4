"""dsa_core.fast: an optional GPU path for DSA (Triton kernels), beside the readable reference.

What is here (one concept per file):
  plan.py               argument checks, tile choices, query chunks, FLOP counts (pure Python)
  api.py                index_topk, sparse_attention, dsa_attention: Triton on CUDA, reference elsewhere
  indexer_triton.py     kernel 1: indexer scores for a query chunk, never the T×T matrix
  topk_triton.py        kernel 2: top-k by histogram threshold search (no full sort)
  sparse_attn_triton.py kernel 3: gathered sparse attention forward (MQA/GQA, one set per query)
Importing this package never imports Triton; the kernels load on first use on a CUDA device.
Measured speeds and how to reproduce them: docs/gpu.md (numbers in assets/bench/h200.json).
"""

from dsa_core.fast.api import dsa_attention, index_topk, sparse_attention, triton_available

__all__ = ["dsa_attention", "index_topk", "sparse_attention", "triton_available"]
