"""The stopwatch of the timing sweep (timing.py): best-of-n seconds of one call, synchronised on a GPU,
the sweep's random inputs for one context length, and the indexer + selection timed block by block as
the selection pipeline
(pipeline.select_keys) runs them (sampled above a pair budget, scaled back by visible pairs).
"""

import os
import time

import torch

from dsa_core.indexer import index_scores
from dsa_core.pipeline import row_blocks, select_keys, top_k


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
    """Seconds for index_scores and select_topk over the causal prefill, run by the selection pipeline
    with both steps timed (every step-th query block when the prefill holds more than max_pairs)."""
    T = qi.shape[1]
    blocks = list(row_blocks(T, T, chunk))
    total = sum((s1 - s0) * end for s0, s1, end in blocks)
    step = max(1, -(-total // max_pairs))  # time every step-th block
    clock = {"score": 0.0, "pick": 0.0}

    def timed(name, fn):
        def run(*args):
            sync(device)
            t0 = time.perf_counter()
            out = fn(*args)
            sync(device)
            clock[name] += time.perf_counter() - t0
            return out

        return run

    score, pick = timed("score", index_scores), timed("pick", top_k(topk))
    select_keys(qi[:, :chunk], ki[:, :chunk], w[:, :chunk], top_k(topk), rows=chunk)  # warm-up
    done = 0
    for s0, s1, end in blocks[step // 2 :: step]:  # one block of the prefill: the last s1 - s0 of end
        select_keys(qi[:, s0:s1], ki[:, :end], w[:, s0:s1], pick, score, rows=chunk)  # [1, s, K]
        done += (s1 - s0) * end
    return clock["score"] * total / done, clock["pick"] * total / done, done / total
