"""Pure-Python planning for the fast path: argument checks, tile choices, query chunks, FLOP counts.

Nothing here needs Triton or a GPU, so all of it is tested on CPU. The kernels in this package take
what these functions return (block sizes, chunk ranges) and trust it.
Conventions (docs/architecture.md): q [B,S,h,d], k [B,T,d], w [B,S,h] for the indexer; q [B,S,H,D],
k [B,T,H_kv,D], v [B,T,H_kv,Dv], idx [B,S,K] for attention. Query s sits at position T - S + s.
FLOPs are counted as FlashMLA and DeepGEMM do (docs/cost.md, "How FLOPs are counted"): only the
matrix products, 2 per multiply-add, over the (query, key) pairs that are really visible or selected
(the one pair count, dsa_core.cost.flops).
"""

from dsa_core.cost.flops import selected_pairs, visible_pairs

SCORE_BUDGET_BYTES = 2**31  # fp32 index scores alive at once (one query chunk): 2 GiB
SAMPLE_MAX = 8  # fused selection: pass A scores every R-th key tile, R ≤ 8 (~R·K candidates a row)
SMS = 132  # multiprocessors of an H100/H200 SXM: how many programs fill the GPU


def check_indexer_args(q, k, w, topk=None):
    """Raise ValueError unless q [B,S,h,d], k [B,T,d], w [B,S,h] fit together (and topk > 0)."""
    if q.dim() != 4 or k.dim() != 3 or w.dim() != 3:
        raise ValueError(
            f"expected q [B,S,h,d], k [B,T,d], w [B,S,h]; got {tuple(q.shape)}, "
            f"{tuple(k.shape)}, {tuple(w.shape)}"
        )
    B, S, h, d = q.shape
    if k.shape[0] != B or k.shape[2] != d or tuple(w.shape) != (B, S, h):
        raise ValueError(f"shape mismatch: q {tuple(q.shape)}, k {tuple(k.shape)}, w {tuple(w.shape)}")
    if S > k.shape[1]:
        raise ValueError(f"more queries (S={S}) than keys (T={k.shape[1]})")
    if topk is not None and (not isinstance(topk, int) or isinstance(topk, bool) or topk <= 0):
        raise ValueError(f"topk must be a positive int, got {topk!r}")


def check_attention_args(q, k, v, idx):
    """Raise ValueError unless q [B,S,H,D], k [B,T,H_kv,D], v [B,T,H_kv,Dv], idx [B,S,K] fit together."""
    if q.dim() != 4 or k.dim() != 4 or v.dim() != 4 or idx.dim() != 3:
        raise ValueError(
            f"expected q [B,S,H,D], k/v [B,T,H_kv,D], idx [B,S,K]; got {tuple(q.shape)}, "
            f"{tuple(k.shape)}, {tuple(v.shape)}, {tuple(idx.shape)}"
        )
    B, S, H, D = q.shape
    if k.shape[0] != B or k.shape[3] != D or v.shape[:3] != k.shape[:3]:
        raise ValueError(f"shape mismatch: q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}")
    if H % k.shape[2] != 0:
        raise ValueError(f"H={H} query heads are not divisible by H_kv={k.shape[2]} key/value heads")
    if tuple(idx.shape[:2]) != (B, S) or idx.shape[2] == 0 or idx.dtype.is_floating_point:
        raise ValueError(
            f"idx must be a non-empty integer [B={B}, S={S}, K], got {tuple(idx.shape)} {idx.dtype}"
        )
    if S > k.shape[1]:
        raise ValueError(f"more queries (S={S}) than keys (T={k.shape[1]})")


def is_pow2(n):
    return n > 0 and (n & (n - 1)) == 0


def next_pow2(n):
    return 1 << max(0, (int(n) - 1).bit_length())


def split_dim(D):
    """Split a head dim into two power-of-two parts for tl.arange: 576 -> (512, 64), 64 -> (64, 0).

    Returns None when no such split exists (the fast path then falls back to torch).
    """
    if D < 16:
        return None
    main = 1 << (D.bit_length() - 1)
    tail = D - main
    if tail == 0 or (tail >= 16 and is_pow2(tail)):
        return main, tail
    return None


def indexer_blocks(h, d):
    """Queries per indexer program: BQ × h heads = the N of one tl.dot (256 at d = 128, else 128);
    None if unsupported. (256 × 128 measured fastest on the H200 for 64 × 128: docs/gpu.md.)"""
    if not is_pow2(h) or h > 128 or not is_pow2(d) or d < 16:
        return None
    return max(1, (256 if d >= 128 else 128) // h)


def head_block(group):
    """Query heads per attention program: the heads sharing one KV head, padded to a power of two
    (at least 16 for tl.dot, at most 64 for registers)."""
    return min(64, max(16, next_pow2(group)))


def query_chunks(S, T, batch, budget=SCORE_BUDGET_BYTES, multiple=64):
    """Query ranges [s0, s1) whose fp32 scores [batch, s1 - s0, T] stay within `budget` bytes."""
    rows = budget // (4 * max(1, batch) * max(1, T))
    rows = max(multiple, rows // multiple * multiple)
    return [(s0, min(s0 + rows, S)) for s0 in range(0, S, rows)]


def indexer_flops(S, T, h, d):
    return 2 * h * d * visible_pairs(S, T)


def sparse_flops(S, T, H, d_qk, d_v, K):
    return 2 * H * (d_qk + d_v) * selected_pairs(S, T, K)


def dense_flops(S, T, H, d_qk, d_v):
    return 2 * H * (d_qk + d_v) * visible_pairs(S, T)


def candidate_cap(K):
    """Candidate list length per row for the threshold selection (select_triton.py): 4 K, at least 4,096."""
    return max(4096, 4 * next_pow2(K))


def threshold_values(K):
    """Most values one threshold program reads per row (in registers): 16 K, within [1,024, 8,192]."""
    return min(8192, max(1024, 16 * next_pow2(K)))


def selection_path(S):
    """The top-k that index_topk runs on a GPU when the caller does not choose: "threshold" (select_triton.py)
    for a decode step, "histogram" (topk_triton.py) for a prefill. From the H100 run (assets/bench/h100.json):
    a decode step's index_topk took 0.67 ms; in a prefill the histogram path was as fast or faster at
    both shapes (671B: 331 against 333 ms at 128K; host: 107 against 151 ms, docs/gpu.md says why)."""
    return "threshold" if S < 256 else "histogram"


def fuse_rescore(S, h, d, fp8=False):
    """Score twice instead of writing and reading 4-byte scores? Yes when the indexer is small (2·h·d
    FLOP per pair ≤ 1,024: cheaper than 8 bytes of HBM per pair at the H100's ratio of ~270 FLOP/B)
    and there are enough queries to share each key tile (a prefill, not a decode step)."""
    return not fp8 and h * d <= 512 and S >= 256


def selection_chunks(S, T, B, K, bn, fused, budget=SCORE_BUDGET_BYTES):
    """Query ranges for the threshold selection: [(s0, s1, r, g)], or None when it does not apply.

    r: pass A scores every r-th key tile (fused path; 1 for stored scores), g: the threshold reads the
    max of every g of those keys. r·g grows with the position, so that a row keeps at least 2 K values
    (tight threshold) and at most V = threshold_values(K) (registers): position ranges [n, V/2K·n].
    Each range also keeps its buffers within `budget` bytes (stored scores, maxima, candidates).
    """
    V, cap = threshold_values(K), candidate_cap(K)
    if V < 2 * K:
        return None
    out, s0 = [], 0
    while s0 < S:
        n_min = T - S + s0 + 1  # visible keys of the range's first query
        rg = max(1, 1 << max(0, (n_min // (2 * K)).bit_length() - 1))  # power of two ≤ n_min / 2K
        r = min(rg, SAMPLE_MAX) if fused else 1
        g = min(rg // r, bn)
        n_max = V * g * r  # rows up to here read ≤ V values (sample_cols; cdiv(n, g) when stored)
        if n_max < n_min:
            return None
        per_row = B * (4 * V + 8 * cap + (0 if fused else 4 * T))
        rows = max(1, budget // per_row)
        s1 = min(S, n_max - (T - S), s0 + rows)
        out.append((s0, s1, r, g))
        s0 = s1
    return out


def sample_cols(last_pos, bn, r, g):
    """Columns pass A writes for a query block whose last query is at last_pos (fused_topk_triton.py)."""
    return (last_pos // bn // r + 1) * (bn // g)


def attention_splits(S, B, H_kv, head_blocks, K, bn, sms=SMS):
    """Slot ranges per query for sparse attention: 1 when the queries alone fill the GPU (prefill),
    else a power of two that gives about two programs per multiprocessor (decode), at most K / bn."""
    programs = S * B * H_kv * head_blocks
    if programs >= sms:
        return 1
    want = 1 << ((2 * sms // programs).bit_length() - 1)  # power of two ≤ 2·SMs / programs
    return max(1, min(want, -(-K // bn)))


def decode_selection(B, S, T, K, bn=64, sms=SMS):
    """The one-launch selection of a decode step (decode_triton.py), or None where it does not apply.

    -> {"g", "cols", "rb", "cap", "per", "block"}: the indexer writes the max of every g keys (g = 1:
    the scores themselves; g a power of two ≤ n / 2K and ≤ bn), so a row has cols = T/g ≥ 2 K values
    for its threshold (rb, a power of two, holds them in registers; at most threshold_values(K));
    each program filters `per` keys (about 4 programs a multiprocessor), `block` at a time, into a
    candidate list of `cap` entries per row."""
    V = threshold_values(K)
    g = max(1, min(bn, 1 << max(0, (T // (2 * K)).bit_length() - 1)))  # power of two ≤ T / 2K
    cols = -(-T // g)
    if V < 2 * K or cols > V:
        return None  # the threshold would not fit in registers: api.index_topk's ranges instead
    block = 2048
    per = max(block, next_pow2(-(-T * B * S // (4 * sms))))
    return {"g": g, "cols": cols, "rb": next_pow2(cols), "cap": candidate_cap(K), "per": per, "block": block}
