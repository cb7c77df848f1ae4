"""The DSA family's selectors: each member is a score function and a pick function for the pipeline.

Every member returns int64 [B,S,K] token positions, best first, -1 = empty slot (at the end), so
sparse_attention, the metrics and the model's plug-in point (host/model.py) apply unchanged. Queries
follow index_scores' convention: with S ≤ T keys, query s sits at position T - S + s.

  token top-k      S_t = Top-k_s I[t,s]                                  (DeepSeek-V3.2-Exp, Eq. 2)
  block top-n      J[t,j] = pool_{s ∈ block j} I[t,s]  (max or mean over the visible keys);
                   S_t = own block ∪ Top-(n-1)_j J[t,j], expanded to tokens; n·b = k
  compressed keys  k̄_g = mean_{s ∈ group g} k_s;  Ī[t,g] = Σ_j w[t,j]·ReLU(q[t,j]·k̄_g) over complete
                   groups g < (t+1)/c;  S_t = own partial group ∪ Top_g Ī[t,g], expanded; (k/c)·c = k
  shared indices   layer l reuses S_t of layer src(l) ≤ l; src from a rule (every r-th layer computes,
                   or the computing layers are chosen from the measured layer × layer overlap)
  block, MSA-style J[t,j] = max_{s ∈ block j} q[t]·k[s]/√d with a one-head indexer of its own (dot_scores)
  compressed keys  as above, plus the last `window` tokens and `sink` first tokens always kept (window_pick)
  + window, sink
  two-level        coarse: the own block and the m best blocks of b (top_blocks) by pooled keys (HISA) or
                   by max-pooled token scores of a source layer (DeepSeek-V4.1); fine: token top-k inside
                   the kept blocks (within_blocks). Two passes of the pipeline, see in_model.py.
Mechanisms as described in public sources, scaled to our host model, not reproductions of those
models (docs/family.md lists and cites them): block top-n after MiniMax-M3's MSA (max-pooled block
scores, local block forced; ggml-org/llama.cpp#24908), compressed keys after DeepSeek-V4's CSA and a
Qwen QSA design (keys pooled 4×, only complete groups scored, the partial tail group forced;
ggml-org/llama.cpp#24162, sgl-project/sglang-jax#1674), shared indices after GLM-5.2's IndexShare and
IndexCache (THUDM/IndexCache, arXiv 2603.12201), two-level after HISA (arXiv 2603.28458) and DeepSeek-V4.1's
candidate blocks (sgl-project/sglang#38944). Official reference for the token selector: topk.py.
The members in the model: in_model.py; their cost: cost.py.
"""

import torch
import torch.nn.functional as F

from dsa_core.dense import causal_mask
from dsa_core.indexer import index_scores
from dsa_core.pipeline import ROWS, row_blocks, select_keys
from dsa_core.topk import select_topk, topk_mask


def _positions(S, T, device):
    """Positions of S queries that are the last S of T tokens: [S]."""
    return torch.arange(T - S, T, device=device)


def _empty_last(idx):
    """Move -1 slots to the end of each row, keeping the order of the rest: [..., K] -> [..., K]."""
    order = (idx < 0).to(torch.int8).sort(dim=-1, stable=True).indices  # valid first, in order
    return idx.gather(-1, order)


def expand_groups(group_idx, size, T):
    """Chosen groups of `size` tokens -> their token positions, future ones dropped: group_idx [B,S,n]
    (group g holds tokens g·size … g·size+size-1, -1 = none) -> int64 [B,S,n·size]."""
    B, S, n = group_idx.shape
    tokens = group_idx[..., None] * size + torch.arange(size, device=group_idx.device)  # [B,S,n,size]
    query = _positions(S, T, group_idx.device)[None, :, None, None]  # [1,S,1,1]
    tokens = tokens.masked_fill((group_idx[..., None] < 0) | (tokens > query), -1)  # [B,S,n,size]
    return _empty_last(tokens.reshape(B, S, n * size))  # [B,S,n·size]


def token_topk(scores, k):
    """DeepSeek's selection (today's selector): the k best index scores per query. [B,S,T] -> [B,S,k]."""
    return select_topk(scores, k)


def pool_blocks(scores, b, how="max"):
    """Index scores pooled over key blocks of b tokens: [B,S,T] -> [B,S,ceil(T/b)], -inf if none visible;
    max keeps a block's single best key, mean averages its visible (finite) keys."""
    B, S, T = scores.shape
    nb = -(-T // b)
    padded = F.pad(scores, (0, nb * b - T), value=float("-inf")).view(B, S, nb, b)  # [B,S,nb,b]
    if how == "max":
        return padded.amax(-1)  # [B,S,nb]
    if how != "mean":
        raise ValueError(f"pool must be 'max' or 'mean', got {how!r}")
    visible = torch.isfinite(padded)  # [B,S,nb,b]
    total = torch.where(visible, padded, 0.0).sum(-1)  # [B,S,nb]
    count = visible.sum(-1)  # [B,S,nb]
    return torch.where(count > 0, total / count.clamp(min=1), float("-inf"))  # [B,S,nb]


def block_topn(scores, b, n, how="max", local=True):
    """Block top-n: the query's own block plus the n-1 best other blocks (or the n best, local=False),
    expanded to tokens. scores [B,S,T] (-inf in the future) -> int64 [B,S,n·b]."""
    if b < 1 or n < 1:
        raise ValueError(f"block size b and block count n must be >= 1, got b={b}, n={n}")
    B, S, T = scores.shape
    J = pool_blocks(scores, b, how)  # [B,S,nb]
    if not local:
        return expand_groups(select_topk(J, n), b, T)  # [B,S,n·b]
    own = (_positions(S, T, scores.device) // b).expand(B, S)[..., None]  # [B,S,1]
    others = J.scatter(-1, own, float("-inf"))  # the own block competes no more [B,S,nb]
    rest = select_topk(others, n - 1) if n > 1 else own[..., :0]  # [B,S,n-1]
    return expand_groups(torch.cat([own, rest], -1), b, T)  # [B,S,n·b]


def compress_keys(k, c):
    """Indexer keys mean-pooled over complete groups of c tokens: [B,T,d] -> [B,T//c,d]."""
    B, T, d = k.shape
    G = T // c  # a last partial group has no pooled key yet: it is never scored
    return k[:, : G * c].reshape(B, G, c, d).mean(2)  # [B,G,d]


def compressed_scores(q, k_bar, w, c, T):
    """Ī[t,g] = Σ_j w[t,j]·ReLU(q[t,j]·k̄_g), -inf unless group g is complete at t: [B,S,G] fp32.

    q [B,S,h,d], k_bar [B,G,d], w [B,S,h]; T keys in all (queries are the last S). index_scores (Eq. 1)
    with pooled keys and a group-level causal rule: a group is scored once all its c tokens are past.
    """
    B, S, h, _ = q.shape
    q, k_bar, w = q.float(), k_bar.float(), w.float()
    scores = torch.zeros(B, S, k_bar.shape[1], device=q.device)  # [B,S,G]
    for j in range(h):  # Σ over the h indexer heads, in head order (as index_scores)
        scores += w[:, :, j, None] * torch.einsum("bsd,bgd->bsg", q[:, :, j], k_bar).relu()  # [B,S,G]
    complete = (_positions(S, T, q.device) + 1) // c  # groups 0 … complete-1 lie in the past [S]
    future = torch.arange(k_bar.shape[1], device=q.device)[None, :] >= complete[:, None]  # [S,G]
    return scores.masked_fill_(future, float("-inf"))


def compressed_score(c):
    """The score function of compressed keys for pipeline.select_keys: (q, k [B,end,d], w) -> [B,s,G]."""
    return lambda q, k, w: compressed_scores(q, compress_keys(k, c), w, c, k.shape[1])  # [B,s,G]


def compressed_pick(c, k_tokens):
    """The pick of compressed keys: the k/c best complete groups, the own partial group forced, as
    tokens: group scores [B,s,G] of queries ending at position end-1 -> int64 [B,s,(k/c)·c]."""
    if c < 1 or k_tokens < c:
        raise ValueError(f"need 1 <= c <= k, got c={c}, k={k_tokens}")
    n = k_tokens // c

    def pick(scores, end):
        B, s, G = scores.shape
        top = select_topk(scores, n) if G else scores.new_full((B, s, n), -1, dtype=torch.long)  # [B,s,n]
        pos = _positions(s, end, scores.device)  # [s]
        own = (pos // c).expand(B, -1)[..., None]  # [B,s,1]
        partial = ((pos + 1) % c != 0)[None, :, None]  # the own group is still filling [1,s,1]
        forced = torch.cat([own, top[..., : n - 1]], -1)  # [B,s,n]
        return expand_groups(torch.where(partial, forced, top), c, end)  # [B,s,n·c]

    return pick


def compressed_topk(q, k, w, c, k_tokens, rows=ROWS):
    """Compressed keys through the selection pipeline: q [B,S,h,d], k [B,T,d], w [B,S,h] ->
    int64 [B,S,(k/c)·c]. Score work ÷ c."""
    return select_keys(q, k, w, compressed_pick(c, k_tokens), compressed_score(c), rows)  # [B,S,n·c]


def dot_scores(q, k, w):
    """MiniMax-M3 MSA's index score: one head, a scaled dot product, no ReLU and no head weight:
    I[t,s] = q[t]·k[s] / √d, -inf in the future. q [B,S,1,d], k [B,T,d] -> fp32 [B,S,T]; w is not
    used (the signature is index_scores', so the pipeline takes either score function)."""
    S, d, T = q.shape[1], q.shape[-1], k.shape[1]
    scores = torch.einsum("bsd,btd->bst", q[:, :, 0].float(), k.float()) * d**-0.5  # [B,S,T]
    return scores.masked_fill(~causal_mask(S, T, q.device), float("-inf"))


def groups_between(pos, G, c, window, sink):
    """Which of G groups of c tokens lie wholly after the first `sink` tokens and before the last `window`
    tokens of each query: pos [s] (query positions) -> bool [s,G]. window = sink = 0: the complete groups."""
    start = torch.arange(G, device=pos.device) * c  # first token of each group [G]
    return (start[None, :] >= sink) & (start[None, :] + c <= (pos + 1 - window)[:, None])  # [s,G]


def window_pick(c, k_tokens, window, sink):
    """Compressed keys with a sliding window and sink tokens (after DeepSeek-V4's CSA): the query's last
    `window` tokens and the text's first `sink` tokens are always kept; the other k - window - sink slots
    go to the best complete groups of c that lie wholly between the two, expanded to tokens.
    Group scores [B,s,G] of queries ending at position end-1 -> int64 [B,s,sink+window+n·c]."""
    n = (k_tokens - window - sink) // c
    if c < 1 or window < 0 or sink < 0 or n < 0:
        raise ValueError(f"need c >= 1 and window + sink <= k, got c={c}, window={window}, sink={sink}")

    def pick(scores, end):
        B, s, G = scores.shape
        pos = _positions(s, end, scores.device)  # [s]
        between = groups_between(pos, G, c, window, sink)  # [s,G]
        groups = select_topk(scores.masked_fill(~between, float("-inf")), n) if n and G else None
        tokens = expand_groups(groups, c, end) if groups is not None else pos.new_empty(B, s, 0)  # [B,s,n·c]
        recent = pos[:, None] - torch.arange(window, device=scores.device)  # newest first [s,window]
        recent = recent.masked_fill(recent < sink, -1)  # the sink tokens are kept once
        first = torch.arange(sink, device=scores.device).expand(s, -1)  # [s,sink]
        first = first.masked_fill(first > pos[:, None], -1)  # a sink token the query cannot see yet
        forced = torch.cat([first, recent], -1).expand(B, -1, -1)  # [B,s,sink+window]
        return _empty_last(torch.cat([forced, tokens], -1))  # [B,s,sink+window+n·c]

    return pick


def top_blocks(b, m, first=False, local=1):
    """The coarse pick of two-level selection: the query's own block of b tokens and the local - 1 blocks
    before it, the first block too when `first` (it holds the attention sink), then the best other
    blocks up to m + 1 in all. Block scores [B,s,G] (-inf where a block is not scored) -> block ids
    [B,s,m+1] (-1 = none), the forced ones first."""
    if b < 1 or local < 1 or m + 1 < local + int(first):
        raise ValueError(f"need b >= 1 and m + 1 >= local + first blocks, got b={b}, m={m}, local={local}")

    def pick(scores, end):
        B, s, G = scores.shape
        own = (_positions(s, end, scores.device) // b).expand(B, s)[..., None]  # [B,s,1]
        near = (own - torch.arange(local, device=scores.device)).clamp(min=-1)  # [B,s,local], -1 = none
        if first:  # block 0, unless it is among the local ones already
            zero = torch.where((near == 0).any(-1, keepdim=True), -1, torch.zeros_like(own))  # [B,s,1]
            near = torch.cat([near, zero], -1)  # [B,s,local+1]
        padded = F.pad(scores, (0, 1), value=float("-inf"))  # column G: a partial own block, or "none"
        others = padded.scatter(-1, near.masked_fill(near < 0, G).clamp(max=G), float("-inf"))  # forced
        n = m + 1 - near.shape[-1]
        none = torch.full((B, s, n), -1, dtype=torch.long, device=scores.device)  # no block scored yet
        rest = select_topk(others[..., :G], n) if n and G else none  # [B,s,n]
        return torch.cat([near, rest], -1)  # [B,s,m+1]

    return pick


def within_blocks(blocks, b, k, T):
    """The fine pick of two-level selection: the k best token scores inside each query's candidate
    blocks. blocks [B,S,n] (top_blocks' ids, -1 = none) for S queries that are the last S of T tokens;
    token scores [B,s,end] of the queries ending at position end-1 -> int64 [B,s,k]."""
    S = blocks.shape[1]

    def pick(scores, end):
        s1 = end - (T - S)  # the row block's queries are s1 - s … s1 - 1 of the S
        rows = blocks[:, s1 - scores.shape[1] : s1]  # [B,s,n]
        keep = topk_mask(rows, -(-end // b)).repeat_interleave(b, -1)[..., :end]  # keys in a kept block
        return select_topk(scores.masked_fill(~keep, float("-inf")), k)  # [B,s,k]

    return pick


def block_max_score(b):
    """DeepSeek-V4.1's candidate score: index scores (Eq. 1) max-pooled over blocks of b keys, for
    pipeline.select_keys: (q, k [B,end,d], w) -> [B,s,ceil(end/b)]."""
    return lambda q, k, w: pool_blocks(index_scores(q, k, w), b, "max")  # [B,s,nb]


def every_r(n_layers, r, offset=0):
    """Computing layers under GLM-style sharing: layer l computes iff max(l - offset, 0) % r == 0."""
    if r < 1:
        raise ValueError(f"r must be >= 1, got {r}")
    return [l for l in range(n_layers) if max(l - offset, 0) % r == 0]


def share_sources(n_layers, computing):
    """src[l] = the latest computing layer ≤ l (layer 0 always computes: nothing earlier to reuse)."""
    computing = set(computing) | {0}
    src, last = [], 0
    for l in range(n_layers):
        last = l if l in computing else last
        src.append(last)
    return src


def coverage(overlap, computing):
    """Mean over layers of overlap[l, src(l)]: how much of its own top-k each layer keeps when sharing."""
    src = share_sources(len(overlap), computing)
    return float(sum(overlap[l][s] for l, s in enumerate(src)) / len(src))


def by_overlap(overlap, n_compute):
    """Choose n_compute computing layers from a measured [L,L] overlap: greedily add the layer that
    raises `coverage` most (IndexCache's observation that neighbours overlap, used as the criterion;
    its own training-free search is greedy on LM loss instead, see docs/family.md)."""
    L = len(overlap)
    chosen = [0]
    while len(chosen) < min(n_compute, L):
        best = max((l for l in range(L) if l not in chosen), key=lambda l: coverage(overlap, chosen + [l]))
        chosen.append(best)
    return sorted(chosen)


def jaccard_rows(a, b):
    """|A ∩ B| / |A ∪ B| per query for two selections [S,K] (-1 ignored) -> [S]; empty rows give 1."""
    T = int(max(a.max(), b.max())) + 1
    in_a = topk_mask(a[None], T)[0]  # [S,T]
    hits = in_a.gather(-1, b.clamp(min=0)) & (b >= 0)  # b's picks that a also holds [S,Kb]
    both = hits.sum(-1).float()  # [S]
    union = (a >= 0).sum(-1) + (b >= 0).sum(-1) - both  # [S]
    return torch.where(union > 0, both / union.clamp(min=1), 1.0)  # [S]


def layer_overlap(indices_by_layer, rows=None, block_bytes=2**24):
    """Jaccard overlap of the top-k sets of every pair of layers, mean over queries: L × [S,K] -> [L,L].

    rows: bool [S] queries to average (default: those that see more keys than K, where choice matters).
    Selections of any integer type and width (narrower ones padded with -1). Same numbers as jaccard_rows
    pair by pair; each layer's set is built once per block of rows and read by all later layers. The
    rows go a block at a time, so the int64 copies stay near block_bytes (not L × S × K × 8 bytes).
    """
    L = len(indices_by_layer)
    S, K = indices_by_layer[0].shape[0], max(i.shape[1] for i in indices_by_layer)
    device = indices_by_layer[0].device
    if rows is None:
        rows = torch.arange(S, device=device) >= K  # [S] (all False when S <= K)
        rows = rows if S > K else torch.ones_like(rows)
    keep = rows.nonzero()[:, 0]  # [S']
    T = max(int(i.max()) for i in indices_by_layer) + 1
    total = torch.zeros(L, L, device=device)  # Σ over the rows of each pair's Jaccard
    step = max(1, block_bytes // (8 * L * K))
    for b0, b1, _ in row_blocks(len(keep), len(keep), step):
        r = keep[b0:b1]
        idx = torch.stack(
            [F.pad(i[r].long(), (0, K - i.shape[1]), value=-1) for i in indices_by_layer]
        )  # [L,b,K]
        size = (idx >= 0).sum(-1)  # [L,b]
        for i in range(L - 1):
            in_i = topk_mask(idx[i][None], T)[0]  # layer i's set as a mask [b,T]
            later = idx[i + 1 :]  # [n,b,K]
            both = (in_i[None].expand(len(later), -1, -1).gather(-1, later.clamp(min=0)) & (later >= 0)).sum(
                -1
            )
            union = size[i][None] + size[i + 1 :] - both  # [n,b]
            total[i, i + 1 :] += torch.where(union > 0, both / union.clamp(min=1), 1.0).sum(-1)  # [n]
    out = torch.eye(L, device=device) + (total + total.T) / max(1, len(keep))  # [L,L]
    return out
