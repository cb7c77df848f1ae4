"""The API at 671B head counts, at T = 4096, and at T = 32768 without any T×T allocation."""

import subprocess
import sys

import torch

from dsa_core import V32_671B, dense_attention, index_scores, select_topk, sparse_attention
from dsa_core.toy import toy_indexer_inputs, toy_qkv


def test_api_works_with_the_671b_head_counts():
    T, K = 24, 8
    q, k, v = toy_qkv(1, T, V32_671B.n_heads, 16, H_kv=V32_671B.n_heads)
    iq, ik, iw = toy_indexer_inputs(1, T, V32_671B.index_n_heads, V32_671B.index_head_dim)
    idx = select_topk(index_scores(iq, ik, iw), K)
    assert idx.shape == (1, T, K) and idx.dtype == torch.int64
    assert sparse_attention(q, k, v, idx).shape == dense_attention(q, k, v).shape == (1, T, 128, 16)
    mqa = sparse_attention(q, k[:, :, :1], v[:, :, :1], idx)  # MLA's MQA mode: one latent head
    assert mqa.shape == (1, T, 128, 16)


def test_api_works_at_t_4096():
    T, K = 4096, 64
    iq, ik, iw = toy_indexer_inputs(1, T, 1, 8)
    idx = select_topk(index_scores(iq, ik, iw), K)
    assert (idx <= torch.arange(T)[None, :, None]).all() and (idx[0, -1] >= 0).all()
    q, k, v = toy_qkv(1, T, 2, 8, H_kv=1)
    assert sparse_attention(q[:, -8:], k, v, idx[:, -8:]).shape == (1, 8, 2, 8)
    everything = torch.arange(T).expand(1, 8, T)  # the last 8 queries select every key
    torch.testing.assert_close(
        sparse_attention(q[:, -8:], k, v, everything), dense_attention(q[:, -8:], k, v), rtol=1e-5, atol=1e-5
    )


PROBE = """
import resource, torch
from dsa_core import index_topk, sparse_attention, window_topk
from dsa_core.toy import toy_indexer_inputs, toy_qkv
T, S, K = 32768, 64, 16
q, k, v = toy_qkv(1, T, 2, 16, H_kv=1)
iq, ik, iw = toy_indexer_inputs(1, T, 2, 16)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
idx = index_topk(iq[:, -S:], ik, iw[:, -S:], K, rows=64)
assert idx.shape == (1, S, K) and (idx >= 0).all()
out = sparse_attention(q, k, v, window_topk(T, K)[None])
assert out.shape == (1, T, 2, 16) and torch.isfinite(out).all()
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


def test_t_32768_never_allocates_a_t_by_t_matrix():
    # One fp32 T×T matrix at T = 32768 is 4096 MB; the gathered path needs a few hundred at most.
    run = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    extra_mb = int(run.stdout.split()[-1])
    assert extra_mb < 1024, f"peak memory grew by {extra_mb} MB"
