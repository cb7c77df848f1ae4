"""Timed pieces for benchmarks/gpu_bench.py: inputs, a timer, and one function per measured part.

Every function returns milliseconds (median of several CUDA-event-timed calls after a warm-up) and
leaves FLOP/byte counting to the caller (dsa_core.fast.plan). Inputs are random normal bf16 (never
zeros: a GPU multiplies zeros faster than data, which would flatter every figure), one sequence
(B = 1) unless a batch is given.
"""

import statistics

import torch
import torch.nn.functional as F
import triton
from torch.nn.attention import SDPBackend, sdpa_kernel

from dsa_core.fast import api, plan
from dsa_core.fast.fused_topk_triton import collect_into, sample_max_into
from dsa_core.fast.indexer_triton import index_scores_into
from dsa_core.fast.select_triton import filter_into, final_into, threshold_into
from dsa_core.fast.topk_triton import select_topk_into

BF16 = torch.bfloat16
BACKENDS = [SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION]


def time_ms(fn, budget_ms=300.0, max_reps=20):
    """Median ms of fn(): triton's do_bench for fast calls, a few event-timed calls for slow ones."""
    fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    fn()
    end.record()
    torch.cuda.synchronize()
    first = start.elapsed_time(end)
    if first < 30.0:
        return triton.testing.do_bench(fn, warmup=25, rep=int(budget_ms), return_mode="median")
    times = []
    for _ in range(max(2, min(max_reps, int(budget_ms * 3 // first)))):
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def once_ms(fn):
    """ms of one call of fn() after one warm-up call (for the many small stages of a selection)."""
    fn()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end)


def attn_inputs(shape, T, B=1, S=None, mla=True, seed=0):
    """Attention q [B,S,H,D], kv [B,T,H_kv,D], v (a view of kv when mla) and indexer q_i, k_i, w."""
    g = torch.Generator(device="cuda").manual_seed(seed)
    S = T if S is None else S
    r = lambda *s: torch.randn(*s, device="cuda", generator=g, dtype=BF16)  # noqa: E731
    q = r(B, S, shape["H"], shape["D"])  # [B, S, H, D]
    kv = r(B, T, shape["H_kv"], shape["D"])  # [B, T, H_kv, D]
    v = kv[..., : shape["Dv"]] if mla else r(B, T, shape["H_kv"], shape["Dv"])  # [B, T, H_kv, Dv]
    qi, ki = r(B, S, shape["h"], shape["d"]), r(B, T, shape["d"])  # indexer q, k
    w = torch.randn(B, S, shape["h"], device="cuda", generator=g) * (shape["h"] * shape["d"]) ** -0.5
    return q, kv, v, qi, ki, w


def indexer_only(qi, ki, w, bq, k_scale=None, **tune):
    """ms of the indexer kernel over every query chunk of a causal prefill (scores never T×T)."""
    B, S, h, d = qi.shape
    T = ki.shape[1]
    chunks = api.plan.query_chunks(S, T, B)
    rows = max(s1 - s0 for s0, s1 in chunks)
    scores = torch.empty(B, rows, T, device="cuda")
    gmax = torch.empty(B, rows, triton.cdiv(T, 4096), device="cuda")
    gmin = torch.empty_like(gmax)

    def run():
        for s0, s1 in chunks:
            ks = None if k_scale is None else k_scale[:, : T - S + s1]
            index_scores_into(
                qi[:, s0:s1],
                ki[:, : T - S + s1],
                w[:, s0:s1],
                scores,
                gmax,
                gmin,
                T - S + s0,
                bq,
                k_scale=ks,
                **tune,
            )

    return time_ms(run)


def selection_last_chunk(qi, ki, w, topk, bq, select=None):
    """(ms of our top-k, ms of torch.topk, bytes of visible scores) on the prefill's last query chunk."""
    B, S, h, d = qi.shape
    T = ki.shape[1]
    s0, s1 = api.plan.query_chunks(S, T, B)[-1]
    scores = torch.full((B, s1 - s0, T), float("-inf"), device="cuda")
    gmax = torch.empty(B, s1 - s0, triton.cdiv(T, 4096), device="cuda")
    gmin = torch.empty_like(gmax)
    index_scores_into(qi[:, s0:], ki, w[:, s0:], scores, gmax, gmin, T - S + s0, bq)
    out = torch.empty(B, s1 - s0, topk, device="cuda", dtype=torch.int32)
    ours = time_ms(lambda: select_topk_into(scores, gmax, gmin, out, T - S + s0, T, 4096, **(select or {})))
    theirs = time_ms(lambda: torch.topk(scores, topk, dim=-1, sorted=False))
    ref = torch.topk(scores, topk, dim=-1).indices.sort(-1).values  # [B, s, topk]
    full = torch.arange(s0, s1, device="cuda") + T - S + 1 >= topk  # rows with no -1 slot
    agree = (out.long().sort(-1).values == ref)[:, full].float().mean().item()
    return ours, theirs, 4 * B * api.plan.visible_pairs(s1 - s0, T), agree


def index_topk_ms(qi, ki, w, topk, **kw):
    """ms of the whole indexer + selection pipeline (chunked), its indices and the rows it redid."""
    stats = {}
    idx = api.index_topk(qi, ki, w, topk, stats=stats, **dict(kw))
    return time_ms(lambda: api.index_topk(qi, ki, w, topk, **dict(kw))), idx, stats.get("redone", 0)


def selection_stages_ms(qi, ki, w, topk, fused, **tune):
    """ms of each stage of the threshold selection, summed over its position ranges (api._threshold_rows
    step by step): {"pass_a", "threshold", "collect", "final", "count_check"}, the mean and the largest
    candidate count of a row. tune: the indexer's bq, bn, num_warps, num_stages."""
    B, S, h, d = qi.shape
    tune = dict(tune)
    bq, bn = tune.pop("bq"), tune.pop("bn", 64)
    T = ki.shape[1]
    cap = plan.candidate_cap(topk)
    ms = dict(pass_a=0.0, threshold=0.0, collect=0.0, final=0.0, count_check=0.0)
    cands = []
    for s0, s1, r, g in plan.selection_chunks(S, T, B, topk, bn, fused):
        rows, end, pos0 = s1 - s0, T - S + s1, T - S + s0
        qc, kc, wc = qi[:, s0:s1], ki[:, :end], w[:, s0:s1]
        cnt = torch.zeros(B * rows, device="cuda", dtype=torch.int32)
        ckey = torch.empty(B * rows, cap, device="cuda", dtype=torch.int32)
        cpos = torch.empty_like(ckey)
        tau = torch.empty(B, rows, device="cuda")
        if fused:
            cols = plan.sample_cols(end - 1, bn, r, g)
            mx = torch.empty(B, rows, cols, device="cuda")
            ms["pass_a"] += once_ms(lambda: sample_max_into(qc, kc, wc, mx, pos0, bq, r, g, bn, **tune))
            rb = triton.next_power_of_2(cols)
            ms["threshold"] += once_ms(
                lambda: threshold_into(mx, tau, rows, end, pos0, topk, g, r, bn, bq, rb)
            )

            def collect():
                cnt.zero_()
                collect_into(qc, kc, wc, tau, cnt, ckey, cpos, pos0, bq, bn, 4096, tune.get("num_warps", 4))

        else:
            sc = torch.empty(B, rows, end, device="cuda")
            gm = torch.empty(B, rows, triton.cdiv(end, 4096), device="cuda")
            mx = sc if g == 1 else torch.empty(B, rows, triton.cdiv(end, g), device="cuda")
            ms["pass_a"] += once_ms(
                lambda: index_scores_into(qc, kc, wc, sc, gm, gm, pos0, bq, bn=bn, maxima=mx, g=g, **tune)
            )
            rb = triton.next_power_of_2(mx.shape[2])
            ms["threshold"] += once_ms(
                lambda: threshold_into(mx, tau, rows, end, pos0, topk, g, 0, bn, bq, rb)
            )

            def collect():
                cnt.zero_()
                filter_into(sc, tau, cnt, ckey, cpos, end, pos0)

        ms["collect"] += once_ms(collect)
        n_row = (torch.arange(pos0, pos0 + rows, device="cuda") + 1).clamp(max=end)
        ms["count_check"] += once_ms(lambda: torch.stack([cnt.max(), (cnt < topk).any().int()]).tolist())
        most = int(cnt.max())
        out = torch.empty(B, rows, topk, device="cuda", dtype=torch.int32)
        cb = triton.next_power_of_2(max(most, topk))
        ms["final"] += once_ms(lambda: final_into(cnt, ckey, cpos, out, end, pos0, cb))
        cands.append(cnt.view(B, rows)[:, n_row > topk].float().flatten())
    c = torch.cat(cands)
    return ms, (c.mean().item() if c.numel() else 0.0), (c.max().item() if c.numel() else 0.0)


def sparse_ms(q, kv, v, idx, **tune):
    return time_ms(lambda: api.sparse_attention(q, kv, v, idx, trunc=True, **tune))


def sdpa_ms(B, H, H_kv, T, D, Dv, S=None, expand=False, backend=None):
    """Dense causal SDPA: q [B,H,S,D], k [B,H_kv,T,D], v [B,H_kv,T,Dv]; backend None = torch's choice,
    "best" = the fastest of cuDNN / flash / mem-efficient that runs. Returns (ms, backend name)."""
    S = T if S is None else S
    q = torch.randn(B, H, S, D, device="cuda", dtype=BF16)
    k = torch.randn(B, H_kv, T, D, device="cuda", dtype=BF16)
    v = torch.randn(B, H_kv, T, Dv, device="cuda", dtype=BF16)
    if expand and H_kv != H:  # MLA shape: no fused backend takes GQA at D = 576; copy the heads
        k, v = k.expand(B, H, T, D).contiguous(), v.expand(B, H, T, Dv).contiguous()
    gqa = H_kv != H and not expand
    run = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=S == T, enable_gqa=gqa)  # noqa: E731
    if backend is None:
        return time_ms(run), "default"
    names = [b.name for b in BACKENDS] if backend == "best" else [backend]
    best = (float("inf"), None)
    for name in names:
        try:
            with sdpa_kernel([getattr(SDPBackend, name)]):
                best = min(best, (time_ms(run), name))
        except RuntimeError as e:  # this backend does not take these shapes
            print(f"  sdpa {name}: {str(e).splitlines()[0][:100]}")
    del q, k, v
    return best


def dense_decode_ms(B, H, T, D, Dv):
    """Dense MLA decode in plain torch (absorbed form: one latent KV head): softmax(q·Cᵀ)·C[:, :Dv]."""
    q = torch.randn(B, H, D, device="cuda", dtype=BF16)  # [B, H, D]
    c = torch.randn(B, T, D, device="cuda", dtype=BF16)  # [B, T, D] cache

    def run():
        p = torch.softmax(torch.bmm(q, c.transpose(1, 2)).float() * D**-0.5, dim=-1)  # [B, H, T]
        return torch.bmm(p.to(BF16), c[..., :Dv])  # [B, H, Dv]

    return time_ms(run)


def matmul_tflops(n=8192):
    """Compute ceiling: an n³ bf16 matrix product on random data (cuBLAS)."""
    a, b = (torch.randn(n, n, device="cuda", dtype=BF16) for _ in range(2))
    return 2 * n**3 / time_ms(lambda: a @ b) / 1e9


def copy_tbps(nbytes=2**32):
    """Bandwidth ceiling: a device-to-device copy of 4 GiB, bytes read + written."""
    x = torch.empty(nbytes // 4, device="cuda", dtype=torch.int32).random_()
    y = torch.empty_like(x)
    return 2 * nbytes / time_ms(lambda: y.copy_(x)) / 1e9


def read_tbps(nbytes=2**32):
    """Read-only bandwidth: a sum over 4 GiB of fp32 (what the indexer and the filter do to HBM)."""
    x = torch.randn(nbytes // 4, device="cuda")
    return nbytes / time_ms(lambda: x.sum()) / 1e9
