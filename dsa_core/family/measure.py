"""The DSA family measured on held-out text, at one token budget k (the command: cli.py).

    python -m dsa_core.evaluate FILE... --k 128 --member token,block,compressed,shared,shared-overlap
        [--tokens 2048] [--block B] [--pool max|mean] [--compress C] [--every R] [--calibration FILE] [--json]

For each member (selectors.py, in the host through in_model.py):
- per-layer recall Σ_{s∈S_t} p[t,s] of the head-mean dense attention p (mean over queries that see more
  than k keys), next to the ideal top-k (the k largest p: the ceiling) and today's token top-k;
- whole-model perplexity with the member in all 30 layers, against dense;
- indexer FLOPs per token of a prefill of this length, whole model, from the cost model
  (cost.py `member_cost`: arithmetic, not a timing).
"shared-overlap" chooses its computing layers (as many as "shared" has) from the layer × layer overlap
of the token top-k measured on a calibration text, never on the evaluated texts. "compressed-trained" is
the compressed member scoring with indexers trained for pooled keys (Member.weights, c = 4 only).
"""

import math
from dataclasses import replace
from pathlib import Path

import torch

from dsa_core.analysis.trace import encode
from dsa_core.cost import flops
from dsa_core.family import selectors
from dsa_core.family.cost import member_cost
from dsa_core.family.in_model import (
    Member,
    candidate_blocks,
    layer_picks,
    member_indexer,
    member_select,
    two_level_picks,
)
from dsa_core.host.logprobs import next_token_logprobs
from dsa_core.metrics import attention_recall, oracle_topk
from dsa_core.train.probes import dense_mean


@torch.no_grad()
def token_picks_all(model, ids, k):
    """Token top-k of every layer's indexer on one text (one dense pass): ids [T] -> L × [T,K]."""
    ids = torch.as_tensor(ids, device=model.embed_tokens.weight.device).reshape(1, -1)  # [1,T]
    _, acts = model.hidden(ids, keep=set(range(len(model.layers))))
    return [
        layer_picks(model.layers[l].self_attn.indexer, acts.pop(l)[0], Member("token"), k)[0]
        for l in range(len(model.layers))
    ]  # L × [T,K]


def overlap_rule(model, ids, k, n_compute):
    """(computing layers chosen by measured overlap, the [L,L] overlap) on a calibration text."""
    overlap = selectors.layer_overlap(token_picks_all(model, ids, k))
    return selectors.by_overlap(overlap.tolist(), n_compute), overlap


def carried_picks(v, l, x, indexer, token, held, k):
    """A member's picks in layer l when it carries state across layers (sharing, V4.1's candidates),
    else None. held[...] keeps what the latest computing layer produced; layers run in order."""
    if v.name == "shared":
        if v.computes(l) or "picks" not in held:
            own = member_indexer(v, l, indexer, x.device) if v.weights else None
            held["picks"] = token if own is None else layer_picks(own, x, Member("token"), k)[0]  # [T,K]
        return held["picks"]
    if v.name == "two-level" and v.sources:
        own = member_indexer(v, l, indexer, x.device)
        if v.computes(l) or "blocks" not in held:
            held["blocks"] = candidate_blocks(own, x, v)  # [1,T,m+1]
            return token if own is indexer else layer_picks(own, x, Member("token"), k)[0]
        return two_level_picks(own, x, v, k, held["blocks"])[0]  # [T,K]
    return None


@torch.no_grad()
def evaluate_text(model, ids, k, members, progress=None, recall_layers=None):
    """One text: {"recall": {name: [L floats]}, "jaccard": {name: [L floats]}, "nll": {name: [T-1]}} for
    "ideal", "token" and each member. Jaccard: |S ∩ S_token| / |S ∪ S_token| against the layer's token
    top-k, mean over the same queries as recall (those that see more than k keys).

    Sharing reuses the picks of an earlier layer, V4.1's two levels its candidate blocks; layers run
    in order, so they are known. recall_layers: measure in these layers only (None elsewhere; the
    dense maps are the slow part).
    """
    ids = torch.as_tensor(ids, device=model.embed_tokens.weight.device).reshape(1, -1)  # [1,T]
    L, T = len(model.layers), ids.shape[1]
    rows = torch.arange(T, device=ids.device) + 1 > k  # queries whose top-k drops something [T]
    h, acts = model.hidden(ids, keep=set(range(L)))  # one dense pass: every layer's x, q, k
    names = list(dict.fromkeys(["ideal", "token", *members]))  # a member may be named "token"
    recall, jaccard, held = {n: [] for n in names}, {n: [] for n in names}, {n: {} for n in members}
    for l in range(L):
        x, q, key = acts.pop(l)[:3]
        indexer = model.layers[l].self_attn.indexer
        picks = {"token": layer_picks(indexer, x, Member("token"), k)[0]}  # [T,K]
        for name, v in members.items():  # the carried state follows every layer, measured or not
            carried = carried_picks(v, l, x, indexer, picks["token"], held[name], k)
            picks[name] = picks.get(name) if carried is None else carried  # a member named "token" is it
        if recall_layers is not None and l not in recall_layers:
            for name in names:
                recall[name].append(None)
                jaccard[name].append(None)
            continue
        p = dense_mean(q, key)  # [T,T]
        picks["ideal"] = oracle_topk(p, k)
        for name, v in members.items():
            if picks[name] is None:
                picks[name] = layer_picks(member_indexer(v, l, indexer, x.device), x, v, k)[0]  # [T,K]
        for name in names:
            sel = picks[name]
            recall[name].append(attention_recall(p, sel)[rows].mean().item() if rows.any() else 1.0)
            jac = selectors.jaccard_rows(picks["token"], sel)  # [T]
            jaccard[name].append(jac[rows].mean().item() if rows.any() else 1.0)
        if progress:
            progress(0.5 * (l + 1) / L, f"recall in layer {l}")
    nll = {"dense": -next_token_logprobs(model, ids, h=h[0])[0].cpu()}  # the dense run above [T-1]
    for i, (name, v) in enumerate(members.items()):
        if progress:
            progress(0.5 + 0.5 * i / len(members), f"perplexity with {name} in every layer")
        nll[name] = -next_token_logprobs(model, ids, member_select(v, k))[0].cpu()  # [T-1]
    return {"recall": recall, "jaccard": jaccard, "nll": nll}


def indexer_flops_per_token(model, k, T, v):
    """Whole-model indexer FLOPs per token of a T-token prefill under member v (cost model)."""
    ind, L = model.layers[0].self_attn.indexer, len(model.layers)
    shape = replace(flops.SMOLLM2, index_n_heads=ind.n_heads, index_head_dim=ind.head_dim, index_topk=k)
    own = member_indexer(v, 0, ind, ind.wk.weight.device) if v.weights and v.name == "block" else ind
    heads = own.n_heads * own.head_dim / (ind.n_heads * ind.head_dim)  # the member's indexer width
    return 2 * member_cost(shape, T, v.name, **v.cost_kwargs(k, L, heads))["indexer/qk_macs"] * L / T


def report(loaded, paths, k, tokens, members, progress=None, recall_layers=None):
    """The --json schema: {"k", "tokens", "files", "members": {name: {...}}, "ideal", "token", "dense"}.

    Each member: its label and parameters, weights file, computing layers, recall and Jaccard against
    token top-k per layer and their means, perplexity (and vs dense), indexer FLOPs per token.
    """
    L = len(loaded.model.layers)
    results, files = [], []
    for path in paths:
        ids = encode(loaded, Path(path).read_text(encoding="utf-8"), tokens).ids
        files.append({"file": str(path), "tokens": len(ids)})
        results.append(evaluate_text(loaded.model, ids, k, members, progress, recall_layers))

    def layers(name, what="recall"):
        per = [[r[what][name][l] for r in results] for l in range(L)]
        return [None if None in x else sum(x) / len(x) for x in per]

    def ppl(name):
        return math.exp(torch.cat([r["nll"][name] for r in results]).mean().item())

    out = {"k": k, "tokens": tokens, "files": files, "dense_perplexity": ppl("dense")}
    for name in ("ideal", "token"):
        out[f"{name}_recall"] = layers(name)
    out["members"] = {}
    for name, v in members.items():
        per_layer, jac = layers(name), layers(name, "jaccard")
        carries = v.name == "shared" or (v.name == "two-level" and v.sources)
        out["members"][name] = {
            "label": v.label(k),
            "member": {f: getattr(v, f) for f in v.__dataclass_fields__ if f != "weights"},
            "weights": Path(v.weights).name if v.weights else None,  # None: the model's own indexers
            "computing_layers": v.computing_layers(L) if carries else list(range(L)),
            "recall": per_layer,
            "mean_recall": mean_recall(per_layer),
            "jaccard_vs_token": jac,
            "mean_jaccard_vs_token": mean_recall(jac),
            "perplexity": ppl(name),
            "vs_dense": ppl(name) / ppl("dense") - 1,
            "indexer_flops_per_token": indexer_flops_per_token(
                loaded.model, k, max(f["tokens"] for f in files), v
            ),
        }
    return out


def mean_recall(values):
    """Mean over the layers where recall was measured."""
    values = [v for v in values if v is not None]
    return sum(values) / len(values)


def pareto_points(rep):
    """The equal-cost figure's points from a report (the --json schema): one per member, with its name,
    indexer FLOPs per token, perplexity and recall ÷ ideal top-k (both means over the measured layers)."""
    ideal = mean_recall(rep["ideal_recall"])
    return [
        {
            "name": name,
            "flops": v["indexer_flops_per_token"],
            "perplexity": v["perplexity"],
            "recall": v["mean_recall"] / ideal,
        }
        for name, v in rep["members"].items()
    ]
