"""Generation with caches: the prompt runs once (prefill), then the model runs on one new token per step.

Each step, every layer appends the new token's key and value (after RoPE) to its cache (host/model.py,
LayerCache) and attends from the new query:
  dense  over all T cached keys and values                      reads T rows of K and V per layer
  DSA    the layer's lightning indexer scores the new query against every cached INDEX key (its own,
         smaller cache: d = 64 values a token instead of 2·H_kv·D = 384), top-k keeps K of them, and
         sparse_attention gathers only those K keys and values          reads T index keys + K rows
The selection is the prefill's: pipeline.select growing the cached index keys (grow=), the same score
and pick functions, the same sparse_attention (Attention.fast: its chunked twin). So decoding token by
token gives the prefill's logits at every position (tests/host/test_decode.py), and any family member
decodes through the same plug-in point (`step_select(k, member)`).
Official: deepseek-ai/DeepSeek-V3.2-Exp `inference/model.py` (`Indexer.k_cache`, `MLA.kv_cache`,
`Transformer.forward(tokens, start_pos)`); sampling as karpathy/nanoGPT `model.py` (`GPT.generate`).
Left out: batches of prompts, top-p / top-k sampling, speculative decoding, paged and FP8 caches.
"""

import time
from dataclasses import dataclass, replace

import torch

from dsa_core.cost import flops
from dsa_core.dense import attention_logits
from dsa_core.family import in_model
from dsa_core.fast.cpu import index_scores_fast, select_topk_fast
from dsa_core.fast.rows import window_rows
from dsa_core.indexer import index_scores
from dsa_core.pipeline import select, top_k
from dsa_core.topk import select_topk


def _recorded(pick, read, group=1):
    """pick, plus a note in `read` of what the last query of the block picked and the index scores of
    those picks (group > 1: the scores are per group of `group` tokens, compressed keys; NaN where a
    pick has no score of its own: an empty slot, or a forced group not yet complete)."""

    def pick_and_note(scores, end):
        idx = pick(scores, end)  # [B, s, K]
        last, row = idx[0, -1], scores[0, -1]  # the block's last query: its picks [K], its scores [n]
        where = last.clamp(min=0) // group  # [K] the picks' places in the row
        scored = (last >= 0) & (where < row.shape[0])  # [K]
        score = row.gather(0, where.clamp(max=max(row.shape[0] - 1, 0))) if row.shape[0] else where.float()
        read.update(picks=last.clone(), scores=score.masked_fill(~scored, float("nan")))
        return idx

    return pick_and_note


def step_select(topk, member=None, fast=True):
    """The model's plug-in for generation: select(attn, x, q, k, cache=None) -> [B,S,K] key positions.

    DeepSeek's token top-k with each layer's own indexer (member None; fast: the tested twins), or a
    family member (family.in_model.Member: block, compressed, shared; its weights). With a LayerCache the
    S new tokens are scored against the cached index keys, and the cache keeps the grown keys. The
    returned function's `read` dict holds, per layer, what the last query read in the latest call:
    {layer: {"picks" [K], "scores" [K] (index scores of the picks), "q" [H, D]}}.
    """
    reads = {}

    def own_picks(attn, x, q, k, cache=None):
        T, layer = k.shape[1], attn.layer_id
        indexer = (
            attn.indexer if member is None else in_model.member_indexer(member, layer, attn.indexer, x.device)
        )
        if indexer is None:
            raise ValueError(f"layer {layer} has no indexer; call attach_indexers() first")
        if member is None or (member.name in ("token", "shared") and not member.weights):
            score = index_scores_fast if fast else index_scores  # tested equal to float rounding
            pick = top_k(min(topk, T), select_topk_fast if fast else select_topk)  # tested equal
        else:
            score, pick = in_model.member_pick(member, topk, T)
        group = member.compress if member is not None and member.name == "compressed" else 1
        read = reads.setdefault(layer, {})
        read["q"] = q[0, -1].detach().clone()  # [H, D] the last query, to weigh its picks later
        start, grow = (0, None) if cache is None else (cache.index_length, cache.append_index)
        # the indexer's own key cache grows by the S new tokens (grow); picks [B,S,K]
        return select(indexer, x, _recorded(pick, read, group), score, start_pos=start, grow=grow)[0]

    if member is None or member.name != "shared":
        own_picks.read = reads
        return own_picks
    held = {}

    def shared_picks(attn, x, q, k, cache=None):  # a layer that does not compute reuses the one above
        if attn.layer_id == 0 or member.computes(attn.layer_id) or "picks" not in held:
            held["picks"], held["from"] = own_picks(attn, x, q, k, cache), attn.layer_id
        else:  # no indexer runs here, so this layer keeps no index keys either
            src = reads[held["from"]]
            reads[attn.layer_id] = {"picks": src["picks"], "scores": src["scores"], "q": q[0, -1].clone()}
        return held["picks"]

    shared_picks.read = reads
    return shared_picks


def window_step_select(topk, n_sinks=4):
    """The same-budget baseline for generation: the first n_sinks tokens + the most recent ones."""
    reads = {}

    def pick_keys(attn, x, q, k, cache=None):
        S, T = x.shape[1], k.shape[1]
        picks = window_rows(T, min(topk, T), T - S, T, n_sinks).to(x.device)  # the S new queries [S, K]
        nan = torch.full(picks.shape[-1:], float("nan"))  # [K] a window has no index scores
        reads[attn.layer_id] = {"picks": picks[-1], "scores": nan, "q": q[0, -1].clone()}
        return picks.expand(x.shape[0], -1, -1)  # [B, S, K]

    pick_keys.read = reads
    return pick_keys


def step_bytes(T, k, fmt="bf16", shape=flops.SMOLLM2):
    """Cache bytes one decode step at context T reads, whole model (dsa_core.cost.flops's decode bytes
    times the layers): {"dense": K and V of all T tokens, "dsa index": T index keys, "dsa kv": K and V
    of min(T, k) picks, "dsa": both}. fmt: "fp8" (DeepSeek's layout), "bf16", or "fp32" (this host's
    caches: twice bf16). The 671B reference: shape=flops.V32_MQA, fmt="fp8" (656 B + 132 B a token)."""
    fmt_of_table, scale = ("bf16", 2) if fmt == "fp32" else (fmt, 1)
    shape = replace(shape, index_topk=k)
    dense = flops.dense_cost(shape, T, "decode", fmt_of_table)["decode/read_bytes"]
    dsa = flops.dsa_cost(shape, T, "decode", kv_fmt=fmt_of_table)["decode/read_bytes"]
    index = flops.cache_bytes_per_token(shape, fmt_of_table)["index_cache/bytes_per_token"] * T
    per_layer = {"dense": dense, "dsa index": index, "dsa kv": dsa - index, "dsa": dsa}
    return {name: b * scale * shape.n_layers for name, b in per_layer.items()}


def cache_bytes(model, T):
    """Bytes of this host's caches for T tokens (fp32, as the model keeps them): {"kv": keys and values
    of every layer, "index": every layer's indexer keys (0 without indexers)}."""
    cfg, indexer = model.cfg, model.layers[0].self_attn.indexer
    d = indexer.head_dim if indexer is not None else 0
    return {"kv": 4 * 2 * cfg.n_kv_heads * cfg.head_dim * cfg.n_layers * T, "index": 4 * d * cfg.n_layers * T}


@dataclass
class Step:
    """One generated token, and what the query that produced it read (None for dense)."""

    token: int  # the new token's id
    position: int  # its position in the text; the query that produced it sits at position - 1
    seconds: float  # wall time of the model run that produced it (step 0: the whole prefill)
    picks: torch.Tensor | None = None  # [L, K] positions each layer read, best first, -1 = empty
    scores: torch.Tensor | None = None  # [L, K] their index scores (NaN: no score, e.g. forced)
    mass: torch.Tensor | None = None  # [L] share of the query's dense attention (head mean) on the picks
    dense_top: torch.Tensor | None = None  # [L, K] the query's own dense top-K (what an ideal pick reads)


def next_token(logits, temperature=0.0, generator=None):
    """Greedy (temperature 0) or one draw from softmax(logits / temperature): logits [V] -> int."""
    if temperature <= 0:
        return int(logits.argmax())
    probs = torch.softmax(logits.float() / temperature, dim=-1)  # [V]
    return int(torch.multinomial(probs, 1, generator=generator))


def what_was_read(cache, reads):
    """Per layer, the picks of the last query, their index scores, the share of that query's dense
    attention (mean over heads, all T cached keys) they hold, and its own dense top-K: Step's fields."""
    picks, scores, mass, top = [], [], [], []
    for layer in sorted(reads):
        r = reads[layer]
        keys = cache.layers[layer].k[:, : cache.length]  # [1, T, H_kv, D]
        # = dense.attention_probs for the newest query, which sees every cached key (no mask), without
        # its finiteness pass over the whole cache (5 of its 6 ms a layer at 8,192 tokens)
        p = attention_logits(r["q"][None, None], keys)[0, :, 0].softmax(-1).mean(0)  # [T]
        kept = r["picks"][r["picks"] >= 0]  # [K'] the positions it really read
        picks.append(r["picks"])
        scores.append(r["scores"])
        mass.append(p[kept].sum())
        top.append(p.topk(min(len(r["picks"]), len(p))).indices)
    K = max(len(t) for t in picks)
    pad = lambda t, v: torch.cat([t, t.new_full((K - len(t),), v)])  # noqa: E731 - rows of one width
    return (
        torch.stack([pad(t, -1) for t in picks]),  # [L, K]
        torch.stack([pad(t.float(), float("nan")) for t in scores]),  # [L, K]
        torch.stack(mass),  # [L]
        torch.stack([pad(t, -1) for t in top]),  # [L, K]
    )


@torch.no_grad()
def generate(model, ids, max_new_tokens, select=None, temperature=0.0, seed=0, stop=(), read=True):
    """Continue ids [P] for up to max_new_tokens tokens: yields one Step per token as soon as it exists.

    select: None (dense) or a cache-aware plug-in (step_select, window_step_select). Greedy when
    temperature is 0, else seeded sampling (the same seed gives the same draws). Stops after a token in
    `stop`. read: fill each Step's picks, scores, mass and dense_top (computed after the step's clock).
    """
    ids = torch.as_tensor(ids, device=model.embed_tokens.weight.device).reshape(1, -1)  # [1, P]
    P, limit = ids.shape[1], model.cfg.max_seq_len
    if P < 1 or max_new_tokens < 1:
        raise ValueError(f"need a prompt and at least one new token, got {P} and {max_new_tokens}")
    if P + max_new_tokens > limit:
        raise ValueError(
            f"prompt ({P} tokens) + {max_new_tokens} new ones exceed the model's context ({limit}): "
            "cut the prompt or ask for fewer tokens"
        )
    cache = model.new_cache(P + max_new_tokens)
    generator = torch.Generator().manual_seed(seed)
    reads = getattr(select, "read", None) if read else None
    tokens = ids
    for position in range(P, P + max_new_tokens):
        t0 = time.perf_counter()
        h = model.hidden(tokens, select, cache=cache)[0]  # the prompt (prefill), then one token [1,S,dim]
        token = next_token(model.lm_head(h[0, -1]), temperature, generator)  # only the last position
        step = Step(token, position, time.perf_counter() - t0)
        if reads:
            step.picks, step.scores, step.mass, step.dense_top = what_was_read(cache, reads)
        yield step
        if token in stop:
            return
        tokens = torch.tensor([[token]], device=ids.device)  # [1, 1]


def in_turn(model, ids, max_new_tokens, selects, temperature=0.0, seed=0, stop=(), read=True):
    """One generate() per mode ({name: select or None}), advanced a token at a time in turn: yields
    (name, Step). The modes run under the same load, so their times compare; each keeps its own cache
    while it runs (memory: one cache per mode). A mode that meets a stop token drops out."""
    runs = {
        name: generate(model, ids, max_new_tokens, sel, temperature, seed, stop, read)
        for name, sel in selects.items()
    }
    while runs:
        for name in list(runs):
            step = next(runs[name], None)
            if step is None:
                del runs[name]
            else:
                yield name, step


def first_difference(a, b):
    """Index of the first place two token lists differ (the shorter one ending counts), or None."""
    i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return None if i == len(a) == len(b) else i


@torch.no_grad()
def step_seconds(model, ids, contexts, selects, repeats=3):
    """Wall seconds of one decode step (model run + next-token choice) at each context length, median
    of `repeats`: {name: [seconds per context]}. selects: {name: None (dense) or a cache-aware select}.

    Each mode prefills ids[:max(contexts) - 1] once; a step at context L rolls its cache back to L - 1
    tokens and runs token L - 1, whose query then sees L keys (the longest context first: a rollback
    only forgets). The modes take turns step by step, so load from other processes falls on all of
    them alike. ids: at least max(contexts) token ids.
    """
    ids = torch.as_tensor(ids, device=model.embed_tokens.weight.device).reshape(1, -1)  # [1, N]
    top = max(contexts)
    if ids.shape[1] < top:
        raise ValueError(f"need {top} token ids for a context of {top}, got {ids.shape[1]}")
    caches = {}
    for name, sel in selects.items():
        caches[name] = model.new_cache(top)
        model.hidden(ids[:, : top - 1], sel, cache=caches[name])  # the prefill, once per mode
    times = {(name, L): [] for name in selects for L in contexts}
    for L in sorted(set(contexts), reverse=True):
        for _ in range(repeats):
            for name, sel in selects.items():
                caches[name].truncate(L - 1)
                t0 = time.perf_counter()
                h = model.hidden(ids[:, L - 1 : L], sel, cache=caches[name])[0]  # [1, 1, dim]
                next_token(model.lm_head(h[0, -1]))
                times[name, L].append(time.perf_counter() - t0)
    median = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    return {name: [median(times[name, L]) for L in contexts] for name in selects}
