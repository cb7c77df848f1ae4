"""The DSA family on one text, for the app's Family page and notebook 08.

Every layer's token top-k from one dense run (ranked, so any k ≤ m is a slice), for every query or for
a sample of queries spread over the text (the layer overlap is a mean over queries: a sample of 256
holds it in L × 256 × m positions instead of L × T × m), each member's picks at one layer, recall
against the ideal and against each other (row block by row block: no [T,K] int64 copy of a whole
selection), perplexity with a member in every layer, and what each member saves from the one cost
model (cost.py `member_cost`). The selectors are selectors.py's; in_model.py puts them in the model.
"""

from dataclasses import replace

import torch

from dsa_core.analysis.trace import layer_progress
from dsa_core.cost import flops
from dsa_core.family import selectors
from dsa_core.family.cost import indexer_share, member_cost
from dsa_core.family.in_model import Member, layer_picks, member_select
from dsa_core.host.logprobs import next_token_logprobs
from dsa_core.indexer import index_scores
from dsa_core.metrics import attention_recall
from dsa_core.pipeline import row_blocks, select_keys, top_k
from dsa_core.rope import rope_cos_sin


def _layer_inputs(model, ids):
    """Each layer's attention input x of a dense run, one layer at a time (Transformer.hidden's loop,
    keeping nothing): ids [1,T] -> yields (layer, x [1,T,dim])."""
    cfg = model.cfg
    cos, sin = rope_cos_sin(torch.arange(ids.shape[1]), cfg.head_dim, cfg.rope_theta)  # [T,D]
    h = model.embed_tokens(ids)  # [1,T,dim]
    for layer, block in enumerate(model.layers):
        h, acts = block(h, cos, sin, None)
        yield layer, acts[0]


@torch.no_grad()
def ranked_all_layers(model, ids, m, progress=None):
    """Token top-m of every layer's own indexer, one dense run: ids [T] -> [L,T,m] best first (int16 below
    32,768 tokens). progress(fraction, message) is called after each layer."""
    ids = torch.as_tensor(ids).reshape(1, -1)  # [1,T]
    L, T, out = len(model.layers), ids.shape[1], []
    for layer, x in _layer_inputs(model, ids):
        picks = layer_picks(model.layers[layer].self_attn.indexer, x, Member("token"), min(m, T))[0]  # [T,m]
        out.append(picks.to(torch.int16 if T < 2**15 else torch.int32))
        if progress:
            progress((layer + 1) / L, f"layer {layer + 1} of {L}")
    return torch.stack(out)  # [L,T,m]


def sample_rows(T, m, n=256):
    """n query positions spread evenly over those that see more than m keys (over all T when none
    does), sorted and distinct: -> int64 [R], R ≤ n."""
    first = m if T > m else 0
    return torch.linspace(first, T - 1, min(n, T - first)).round().long().unique()  # [R]


@torch.no_grad()
def ranked_sampled_layers(model, ids, m, rows, progress=None):
    """Token top-m of every layer's own indexer at the queries `rows` only, one dense run: ids [T],
    rows [R] (sample_rows) -> [L,R,min(m,T)] best first, -1 = empty (int16 below 32,768 tokens).
    Each layer scores R rows against the keys up to the last of them: [R,end] floats, not [T,T]."""
    ids = torch.as_tensor(ids).reshape(1, -1)  # [1,T]
    L, T, end = len(model.layers), ids.shape[1], int(rows[-1]) + 1
    future = torch.arange(end)[None, :] > rows[:, None]  # key after the query [R,end]
    out = []
    for layer, x in _layer_inputs(model, ids):
        q, k, w = model.layers[layer].self_attn.indexer.project(x[:, :end])  # [1,end,h,d] [1,end,d] [1,end,h]
        # index_scores puts query i at end - R + i, never before rows[i]: its mask hides less than
        # `future`, which then hides each sampled query's own future
        score = lambda *qkw: index_scores(*qkw).masked_fill(future, float("-inf"))  # noqa: E731 [1,R,end]
        picks = select_keys(q[:, rows], k, w[:, rows], top_k(min(m, T)), score, rows=len(rows))[0]  # [R,m]
        out.append(picks.to(torch.int16 if T < 2**15 else torch.int32))
        if progress:
            progress((layer + 1) / L, f"layer {layer + 1} of {L}")
    return torch.stack(out)  # [L,R,m]


def sampled_overlap(ranked, k):
    """Layer x layer Jaccard of the sampled queries' top-k (ranked_sampled_layers: [L,R,m]): every sampled
    query counts (the sample holds only queries that choose: more than k keys visible) -> [L,L]."""
    every_row = torch.ones(ranked.shape[1], dtype=torch.bool)  # [R]
    return selectors.layer_overlap(take(ranked, k), rows=every_row)


def take(ranked, k):
    """The top-k of every layer from the ranked top-m: [L,T,m] -> L × [T,k], views (no copy)."""
    return [r[:, :k] for r in ranked]


def members(k, block=0, pool="max", compress=4, every=4, computing=()):
    """The four members at budget k, as Members (the page's and notebook's defaults)."""
    return {
        "token top-k": Member("token"),
        "block top-n": Member("block", block=block, pool=pool),
        "compressed keys": Member("compressed", compress=compress),
        "shared indices": Member("shared", every=every, computing=tuple(computing)),
    }


@torch.no_grad()
def member_picks(indexer, x, members, k, token_by_layer, layer, scores=None, rows=1024):
    """Each member's selection at one layer: x [T,dim] -> {name: int64 [T,K]}. A shared member takes the
    token top-k of the latest computing layer (token_by_layer: L × [T,K], any integer type; only the
    token and shared members read it). scores: the layer's [T,T]
    index scores when already computed (a trace keeps them): block top-n then pools them, row block by
    row block, instead of scoring the keys again."""
    out = {}
    for name, v in members.items():
        if v.name == "shared":
            src = selectors.share_sources(len(token_by_layer), v.computing_layers(len(token_by_layer)))
            out[name] = token_by_layer[src[layer]].long()
        elif v.name == "token":
            out[name] = token_by_layer[layer].long()
        elif v.name == "block" and scores is not None:
            b, T = v.block_size(k), scores.shape[0]
            out[name] = torch.cat(
                [
                    selectors.block_topn(scores[None, s0:s1, :end], b, max(1, k // b), v.pool, v.local)[0]
                    for s0, s1, end in row_blocks(T, T, rows)
                ]
            )  # [T,K]: a row block sees keys 0 … end - 1 only
        else:
            out[name] = layer_picks(indexer, x[None], v, k)[0]  # [T,K]
    return out


def recall_table(dense_mean, picks, k, rows=1024):
    """Mean recall of each selection over the queries that see more than k keys: {name: float}.
    picks: {name: [T,K]} of any integer type, read a block of rows at a time."""
    T = dense_mean.shape[0]
    keep = torch.arange(T) + 1 > k  # [T]
    if not keep.any():
        keep = torch.ones(T, dtype=torch.bool)
    out = {}
    for name, idx in picks.items():
        total = sum(
            float(attention_recall(dense_mean[s0:s1], idx[s0:s1].long())[keep[s0:s1]].sum())
            for s0, s1, _ in row_blocks(T, T, rows)
        )
        out[name] = total / int(keep.sum())
    return out


def agreement(picks):
    """Jaccard overlap between every pair of selections at one layer: {name: [T,K]} -> [n,n]
    (widths may differ: layer_overlap pads the narrower ones with -1, a block of rows at a time)."""
    return selectors.layer_overlap(list(picks.values()))  # [n,n]


@torch.no_grad()
def perplexities(model, ids, k, members, progress=None):
    """Perplexity of the text with dense attention and with each member in every layer: {name: float}.
    progress(fraction, message) is called after every layer of every run (where the app stops it)."""
    ids = torch.as_tensor(ids).reshape(1, -1)  # [1,T]
    runs = {"dense": None, **{name: member_select(v, k) for name, v in members.items()}}
    out, L, n = {}, len(model.layers), len(runs)
    for i, (name, select) in enumerate(runs.items()):

        def after_layer(layer, i=i, name=name):
            if progress:
                progress(
                    (i * L + layer + 1) / (n * L), f"{name} in every layer ({i + 1} of {n}), layer {layer}"
                )

        with layer_progress(model, after_layer):
            out[name] = float(torch.exp(-next_token_logprobs(model, ids, select)[0].mean()))
    if progress:
        progress(1.0, "done")
    return out


def host_shape(model, k):
    """The cost model's AttnShape for the host model and its indexers at budget k."""
    cfg, ind = model.cfg, model.layers[0].self_attn.indexer
    return replace(
        flops.SMOLLM2,
        n_heads=cfg.n_heads,
        qk_head_dim=cfg.head_dim,
        v_head_dim=cfg.head_dim,
        index_n_heads=ind.n_heads,
        index_head_dim=ind.head_dim,
        index_topk=k,
        n_layers=len(model.layers),
        kv_fp8_dims=2 * cfg.n_kv_heads * cfg.head_dim,
    )


def cost_kwargs(v, k, n_layers):
    """member_cost's keyword arguments for a Member."""
    if v.name == "block":
        return {"b": v.block_size(k)}
    if v.name == "compressed":
        return {"c": v.compress}
    if v.name == "shared":
        return {"share": len(v.computing_layers(n_layers)) / n_layers}
    return {}


def savings(shape, L, members):
    """What each member costs for a prefill of L tokens, whole model, from the one cost model:
    rows of {member, indexer GFLOPs, vs token top-k, attention GFLOPs, index cache MB, KV cache MB}."""
    base = member_cost(shape, L, "token")
    kv = flops.cache_bytes(shape, L)["kv_cache/bytes"] / 1e6
    rows = []
    for name, v in members.items():
        c = member_cost(shape, L, v.name, **cost_kwargs(v, shape.index_topk, shape.n_layers))
        rows.append(
            {
                "member": name,
                "indexer score GFLOP": 2 * c["indexer/qk_macs"] * shape.n_layers / 1e9,
                "indexer vs token top-k": c["indexer/qk_macs"] / base["indexer/qk_macs"],
                "top-k inputs (M scores)": c["selection/compares"] * shape.n_layers / 1e6,
                "attention GFLOP": 2 * c["attention/core_macs"] * shape.n_layers / 1e9,
                "index cache MB": c["index_cache/bytes_per_token"] * L * shape.n_layers / 1e6,
                "KV cache MB": kv,
            }
        )
    return rows


GROWTH = {  # the cost lab's members at the same budget (share 8/30: every 4th of the host's 30 layers)
    "token top-k": ("token", {}),
    "block top-n (b = 128)": ("block", {"b": 128}),
    "compressed keys (c = 4)": ("compressed", {"c": 4}),
    "shared indices (1 in 4 layers)": ("shared", {"share": 8 / 30}),
}


def growth(shape, lengths, members=GROWTH):
    """Indexer FLOPs per token of an L-token prefill, one layer, per member, plus the attention all
    members share: {series name: [per length]} for viz.cost_curves."""
    out = {
        name: [2 * member_cost(shape, L, v, **kw)["indexer/qk_macs"] / L for L in lengths]
        for name, (v, kw) in members.items()
    }
    out["attention (every member)"] = [2 * member_cost(shape, L)["attention/core_macs"] / L for L in lengths]
    return out


def indexer_shares(shape, lengths, members=GROWTH):
    """The indexer's share of a prefill's attention FLOPs (indexer + core attention) per member and length:
    rows of {member, "L = ...": share}."""
    return [
        {"member": name, **{f"L = {L:,}": indexer_share(shape, L, v, **kw) for L in lengths}}
        for name, (v, kw) in members.items()
    ]
