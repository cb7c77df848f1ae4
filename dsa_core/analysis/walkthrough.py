"""Numbers for the Learn page's walkthrough (and the notebooks), from a trace and dsa_core functions:
per-indexer-head votes, the indexer's own distribution vs the target it learns, FP8 vs fp32 selection,
and the arithmetic cost of dense, masked-dense and gathered sparse attention on the current text.
"""

import dataclasses

import numpy as np
import torch

from dsa_core.analysis.index_rows import index_rows, projected
from dsa_core.cost import flops as cost
from dsa_core.fp8 import fp8_index_scores
from dsa_core.indexer import index_scores
from dsa_core.metrics import topk_overlap
from dsa_core.pipeline import row_blocks
from dsa_core.topk import select_topk
from dsa_core.train.losses import attention_target, kl_to_scores


def _np(x):
    return x.detach().float().numpy()


@torch.no_grad()
def head_votes(indexer, x, query):
    """Each indexer head's term w[t,j]·ReLU(q[t,j]·k[s]) for one query t: -> [h, t+1] (they sum to I[t,:])."""
    qi, ki, w = indexer.project(x[None, : query + 1])  # [1,t+1,h,d], [1,t+1,d], [1,t+1,h]
    per_head = [
        index_scores(qi[:, -1:, j : j + 1], ki, w[:, -1:, j : j + 1])[0, 0] for j in range(qi.shape[2])
    ]
    return np.stack([_np(v) for v in per_head])  # [h, t+1]


@torch.no_grad()
def indexer_vs_target(rec, query):
    """For one query: the target p (head-mean dense attention, what stage 1 teaches), the indexer's
    distribution softmax(I), and their KL (the stage-1 loss of this row)."""
    p = rec.dense_mean[query, : query + 1].float()  # [t+1]
    s = index_rows(rec, query, query + 1)[0, : query + 1].float()  # [t+1]
    kl = kl_to_scores(p[None, None], s[None, None])
    return {"target": _np(p), "indexer": _np(torch.softmax(s, -1)), "kl": float(kl)}


@torch.no_grad()
def kl_per_query(rec, chunk=256):
    """Stage-1 KL(p_t ‖ softmax(I_t)) for every query t: -> [T] (the loss the Train page lowers)."""
    T = rec.dense_mean.shape[0]
    p = attention_target(rec.dense_mean[None, None])[0]  # [T,T]
    out, proj = [], projected(rec) if rec.index_scores is None else None
    for s0, s1, _ in row_blocks(T, T, chunk):
        scores = index_rows(rec, s0, s1, proj)  # [c,T]
        out += [
            float(kl_to_scores(p[None, t : t + 1], scores[None, t - s0 : t - s0 + 1])) for t in range(s0, s1)
        ]
    return np.asarray(out, np.float32)


@torch.no_grad()
def fp8_agreement(indexer, x, k):
    """Index scores in fp32 vs simulated FP8 (e4m3, block scales, Hadamard rotation, as the official
    kernel): -> {"overlap": [T] share of the fp32 top-k kept by the FP8 top-k, "fp32", "fp8": [T,T]}."""
    qi, ki, w = indexer.project(x[None])
    exact = index_scores(qi, ki, w)  # [1,T,T]
    fp8 = fp8_index_scores(qi, ki, w)  # [1,T,T]
    fp8 = fp8.masked_fill(torch.isinf(exact), float("-inf"))
    overlap = topk_overlap(select_topk(exact, k), select_topk(fp8, k))[0]  # [T]
    return {"overlap": _np(overlap), "fp32": _np(exact[0]), "fp8": _np(fp8[0])}


def cost_on_text(T, k, shape=cost.SMOLLM2):
    """Multiply-adds of one layer's prefill on this text: dense, masked dense ('sparse' computed by
    masking a dense score matrix: still every pair) and DSA (indexer + attention over k keys)."""
    s = dataclasses.replace(shape, index_topk=int(k))
    dense = cost.dense_cost(s, T)["total_macs"]
    dsa = cost.dsa_cost(s, T)
    return {
        "dense": dense,
        "masked dense + indexer": dense + dsa["indexer/qk_macs"],
        "DSA: indexer": dsa["indexer/qk_macs"],
        "DSA: sparse attention": dsa["attention/core_macs"],
        "DSA total": dsa["total_macs"],
    }


def recorded_results():
    """The shipped indexers' recorded held-out evaluation, shaped for the app: None when not shipped, else
    {"k": 128 report's mean, "per_layer": {method: [30] recall}, "by_k": rows, "stage2": rows}."""
    from dsa_core.host.indexers import recorded_evaluation

    evals, stage2 = recorded_evaluation()
    if 128 not in evals:
        return None
    e = evals[128]
    per_layer = {
        name: [l[key] for l in e["layers"]]
        for name, key in (
            ("DSA indexer", "recall_indexer"),
            ("ideal top-k", "recall_oracle"),
            ("window + 4 sinks", "recall_window"),
            ("random", "recall_random"),
        )
    }
    by_k = [
        {
            "k": k,
            "indexer / ideal recall": round(r["mean"]["indexer_over_oracle"], 3),
            "layers above window": f"{r['mean']['layers_indexer_above_window']}/{len(r['layers'])}",
            **{
                f"perplexity, {name}": round(r["perplexity"][m], 2)
                for m, name in (
                    ("dense", "dense"),
                    ("dsa", "DSA"),
                    ("window", "window"),
                    ("oracle", "ideal top-k"),
                )
            },
            "DSA vs dense": f"{100 * r['perplexity']['dsa_vs_dense']:+.1f} %",
        }
        for k, r in evals.items()
    ]
    control = stage2.get("dense control", {}).get("after", {}).get("dense")
    rows = [
        {
            "run": name,
            "DSA before": round(r["before"]["dsa"], 2),
            "DSA after": round(r["after"]["dsa"], 2),
            "dense, same model": round(r["after"]["dense"], 2),
            "dense control": round(control, 2) if control else None,
            "DSA vs control": f"{100 * (r['after']['dsa'] / control - 1):+.1f} %" if control else "",
        }
        for name, r in stage2.items()
        if name.startswith("DSA")
    ]
    return {
        "mean": e["mean"],
        "perplexity": e["perplexity"],
        "tokens": e["tokens"],
        "per_layer": per_layer,
        "by_k": by_k,
        "stage2": rows,
    }
