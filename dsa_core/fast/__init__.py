"""dsa_core.fast: faster twins of the reference, each tested equal to the function it stands in for.

On the CPU (imported by the host model and the app):
  cpu.py                index_scores_fast, select_topk_fast, sparse_attention_chunked
  rows.py               row-block twins the app's analysis uses (window rows, random rankings, overlap,
                        sparse probabilities from one dense product)
  twins.py              which reference each twin equals, and the test that proves it
On a CUDA GPU (Triton kernels; importing this package never imports Triton):
  plan.py               argument checks, tile choices, position ranges, FLOP counts (pure Python)
  api.py                index_topk, sparse_attention, dsa_layer_fused: Triton on CUDA, reference elsewhere
  indexer_triton.py     indexer scores for a query chunk, never the T×T matrix
  topk_triton.py        top-k by histogram threshold search (no full sort)
  select_triton.py      top-k by a safe lower bound and a candidate list per row
  fused_topk_triton.py  indexer + top-k fused: the [S, T] scores never reach HBM
  sparse_attn_triton.py gathered sparse attention forward (MQA/GQA, one set per query; split for decode)
  decode_triton.py      combines a decode step's split sparse attention
Measured speeds and how to reproduce them: docs/gpu.md (numbers in assets/bench/h100.json).
"""

from dsa_core.fast.api import dsa_layer_fused, index_topk, sparse_attention, triton_available

__all__ = ["dsa_layer_fused", "index_topk", "sparse_attention", "triton_available"]
