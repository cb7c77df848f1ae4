"""The stopwatch of the timing sweep (timing.py): best-of-n seconds of one call, synchronised on a GPU,
the sweep's random inputs for one context length, and the indexer + selection timed block by block as
`chunked_index_topk` runs them (sampled above a pair budget, scaled back by visible pairs).
"""

import os
import time

import torch

from dsa_core.indexer import index_scores
from dsa_core.topk import select_topk


def load_average():
    """The 1-minute load average (None where the system has none): other work skews timings."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def best_time(fn, device, min_s=0.3, max_reps=5):
    """Best-of-n seconds of fn() (the least disturbed by other processes); a single call when the
    first one takes over a second (warm-up not worth it)."""
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    first = time.perf_counter() - t0
    if first > 1.0:
        return first, 1
    times = []
    while len(times) < max_reps and sum(times) < min_s:
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return min(times), len(times)


def sweep_inputs(shape, T, device, dtype, seed=0):
    """Seeded random inputs for one context T: q, k, v (MQA), the indexer's qi, ki, w and causal indices."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g).to(device, dtype)  # noqa: E731
    H, D, h, d = shape.n_heads, shape.qk_head_dim, shape.index_n_heads, shape.index_head_dim
    q, k, v = r(1, T, H, D), r(1, T, 1, D), r(1, T, 1, shape.v_head_dim)  # MQA: one KV head
    qi, ki, w = r(1, T, h, d), r(1, T, d), r(1, T, h) * (h * d) ** -0.5
    pos = torch.arange(T)[:, None]  # [T, 1]
    idx = (torch.rand(T, shape.index_topk, generator=g) * (pos + 1)).long()  # [T, K] causal
    idx = idx.masked_fill(torch.arange(shape.index_topk) > pos, -1)[None].to(device)  # [1, T, K]
    return q, k, v, qi, ki, w, idx


def indexer_and_selection(qi, ki, w, topk, device, chunk, max_pairs):
    """Seconds for index_scores and select_topk over the causal prefill (sampled above max_pairs)."""
    T = qi.shape[1]
    blocks = [(s0, min(s0 + chunk, T)) for s0 in range(0, T, chunk)]
    total = sum((s1 - s0) * s1 for s0, s1 in blocks)
    step = max(1, -(-total // max_pairs))  # time every step-th block
    select_topk(index_scores(qi[:, :chunk], ki[:, :chunk], w[:, :chunk]), topk)  # warm-up
    t_idx = t_sel = 0.0
    done = 0
    for s0, s1 in blocks[step // 2 :: step]:
        sync(device)
        t0 = time.perf_counter()
        scores = index_scores(qi[:, s0:s1], ki[:, :s1], w[:, s0:s1])  # [1, s, s1]
        sync(device)
        t1 = time.perf_counter()
        select_topk(scores, topk)  # [1, s, K]
        sync(device)
        t_idx, t_sel = t_idx + t1 - t0, t_sel + time.perf_counter() - t1
        done += (s1 - s0) * s1
    return t_idx * total / done, t_sel * total / done, done / total
