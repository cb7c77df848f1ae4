"""Old vs new CPU paths of dsa_core's indexer, selection and gathered attention, interleaved in one process.

The "old" functions below are frozen copies of dsa_core at commit 85b534e (before the CPU speed-ups):
index_scores head by head with einsum, select_topk with a full-row int64 tie-break key, sparse_attention
with 64 MB gathers. Each round runs every variant once, in turn, so load from other processes hits all
of them alike; we report the best of N rounds and the old/new ratio. Outputs are checked equal first.
One more row compares the reference index_scores ("old") with its one-matmul twin
dsa_core.fast.cpu.index_scores_fast ("new"), which the app uses for long texts (checked close).

    python benchmarks/cpu_paths.py                  # T = 16384, 2 threads, wall time
    python benchmarks/cpu_paths.py --T 32768 --rounds 5 --cpu-time --threads 1
"""

import argparse
import os
import time

import torch

from dsa_core.cost.shapes import T1
from dsa_core.cost.stopwatch import sweep_inputs
from dsa_core.dense import causal_mask
from dsa_core.fast.cpu import index_scores_fast
from dsa_core.indexer import index_scores
from dsa_core.pipeline import index_topk
from dsa_core.sparse import sparse_attention
from dsa_core.topk import select_topk


# ---- frozen old implementations (85b534e) ----------------------------------------------------------
def old_index_scores(q, k, w):
    B, S, h, d = q.shape
    T = k.shape[1]
    scores = torch.zeros(B, S, T, dtype=torch.float32)
    for j in range(h):
        logits = torch.einsum("bsd,btd->bst", q[:, :, j].float(), k.float())
        scores += w[:, :, j, None].float() * logits.relu()
    return scores.masked_fill(~causal_mask(S, T), float("-inf"))


def _old_order_key(scores):
    T = scores.shape[-1]
    bits = (scores.float() + 0.0).view(torch.int32)
    bits = torch.where(bits < 0, bits ^ 0x7FFFFFFF, bits)
    later = torch.arange(T - 1, -1, -1)
    return bits.long() * T + later


def old_select_topk(scores, k):
    B, S, T = scores.shape
    top = scores.max() if scores.numel() else scores.new_zeros(())
    if torch.isnan(top) or torch.isposinf(top):
        raise ValueError("scores contain NaN or +inf values")
    k_eff = min(k, T)
    values, topk_indices = scores.topk(min(k_eff + 1, T), dim=-1)
    tied = (values[..., 1:] == values[..., :-1]) & (values[..., 1:] > float("-inf"))
    topk_indices = topk_indices[..., :k_eff]
    rows = tied.any(dim=-1)
    if rows.any():
        topk_indices[rows] = _old_order_key(scores[rows]).topk(k_eff, dim=-1).indices
    picked = scores.gather(-1, topk_indices)
    topk_indices = topk_indices.masked_fill(picked == float("-inf"), -1)
    pad = topk_indices.new_full((B, S, k - k_eff), -1)
    return torch.cat([topk_indices, pad], dim=-1)


def old_chunked_index_topk(q, k, w, topk, chunk=256):
    S, T = q.shape[1], k.shape[1]
    blocks = []
    for s0 in range(0, S, chunk):
        s1 = min(s0 + chunk, S)
        end = T - S + s1
        blocks.append(old_select_topk(old_index_scores(q[:, s0:s1], k[:, :end], w[:, s0:s1]), topk))
    return torch.cat(blocks, dim=1)


def old_sparse_attention(q, k, v, idx, chunk_elements=2**24):
    B, S, H, D = q.shape
    T, H_kv, Dv = k.shape[1], k.shape[2], v.shape[3]
    K = idx.shape[-1]
    batch = torch.arange(B)[:, None, None]
    valid = (idx >= 0) & (idx <= torch.arange(T - S, T)[:, None])
    rows = max(1, chunk_elements // (K * H_kv * D))
    probs = []
    for s0 in range(0, S, rows):
        s1 = min(s0 + rows, S)
        k_sel = k[batch, idx[:, s0:s1].clamp(min=0)].float()
        q_c = q[:, s0:s1].float().view(B, s1 - s0, H_kv, H // H_kv, D)
        logits = torch.einsum("bsngd,bsknd->bsngk", q_c, k_sel) * D**-0.5
        logits = logits.masked_fill(~valid[:, s0:s1, None, None, :], float("-inf"))
        probs.append(logits.softmax(dim=-1).nan_to_num(0.0).reshape(B, s1 - s0, H, K))
    probs = torch.cat(probs, dim=1)
    rows = max(1, chunk_elements // (K * H_kv * Dv))
    out = []
    for s0 in range(0, S, rows):
        s1 = min(s0 + rows, S)
        v_sel = v[batch, idx[:, s0:s1].clamp(min=0)].float()
        p = probs[:, s0:s1].view(B, s1 - s0, H_kv, H // H_kv, K)
        out.append(torch.einsum("bsngk,bsknd->bsngd", p, v_sel).reshape(B, s1 - s0, H, Dv))
    return torch.cat(out, dim=1).to(v.dtype)


# ---- timing ---------------------------------------------------------------------------------------
def main():
    p = argparse.ArgumentParser()
    p.add_argument("--T", type=int, default=16384)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--cpu-time", action="store_true", help="process CPU time instead of wall time")
    p.add_argument("--block", type=int, default=256, help="query block of the indexer/selection pair timed")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    clock = time.process_time if a.cpu_time else time.perf_counter
    T, C = a.T, a.block
    q, k, v, qi, ki, w, idx = sweep_inputs(T1, T, "cpu", torch.float32)
    s0, s1 = T - C, T  # the last query block: all T keys visible
    qb, kb, wb = qi[:, s0:s1], ki[:, :s1], w[:, s0:s1]
    scores = index_scores(qb, kb, wb)
    assert torch.equal(scores, old_index_scores(qb, kb, wb)), "index_scores changed"
    assert torch.equal(select_topk(scores, T1.index_topk), old_select_topk(scores, T1.index_topk))
    S = min(T, 4096)  # a causal prefill of the first S tokens, chunked
    want = old_chunked_index_topk(qi[:, :S], ki[:, :S], w[:, :S], T1.index_topk)
    assert torch.equal(index_topk(qi[:, :S], ki[:, :S], w[:, :S], T1.index_topk), want)
    assert torch.allclose(sparse_attention(q, k, v, idx), old_sparse_attention(q, k, v, idx), atol=1e-6)
    torch.testing.assert_close(index_scores_fast(qb, kb, wb), scores, rtol=1e-5, atol=1e-5)
    pairs = [
        (
            f"index_scores   [{C} x {T}]",
            lambda: old_index_scores(qb, kb, wb),
            lambda: index_scores(qb, kb, wb),
        ),
        (
            f"index_scores_fast [{C} x {T}]",
            lambda: index_scores(qb, kb, wb),
            lambda: index_scores_fast(qb, kb, wb),
        ),
        (
            f"select_topk    [{C} x {T}]",
            lambda: old_select_topk(scores, T1.index_topk),
            lambda: select_topk(scores, T1.index_topk),
        ),
        (
            f"chunked prefill T={S}",
            lambda: old_chunked_index_topk(qi[:, :S], ki[:, :S], w[:, :S], T1.index_topk),
            lambda: index_topk(qi[:, :S], ki[:, :S], w[:, :S], T1.index_topk),
        ),
        (
            f"sparse_attention T={T}",
            lambda: old_sparse_attention(q, k, v, idx),
            lambda: sparse_attention(q, k, v, idx),
        ),
    ]
    best = {(name, which): float("inf") for name, *_ in pairs for which in ("old", "new")}
    for _ in range(a.rounds):
        for name, old, new in pairs:
            for which, fn in (("old", old), ("new", new)):
                t0 = clock()
                fn()
                best[name, which] = min(best[name, which], clock() - t0)
    print(
        f"T={T}, threads={a.threads}, {'cpu' if a.cpu_time else 'wall'} time, best of {a.rounds}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    for name, *_ in pairs:
        o, n = best[name, "old"], best[name, "new"]
        print(f"  {name:<28} old {o * 1e3:8.1f} ms   new {n * 1e3:8.1f} ms   old/new {o / n:5.2f}x")


if __name__ == "__main__":
    main()
