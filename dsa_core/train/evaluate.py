"""How good are the trained indexers? Per-layer recall and whole-model perplexity on any text files.

    python -m dsa_core.train.evaluate FILE... --k 128 [--tokens 2048] [--indexers PATH] [--json]
                                      [--device cuda]

Per layer (mean over queries that see more than k keys; p = head-mean dense attention, which the
indexer is trained to imitate): recall_indexer = Σ_{s∈S_t} p[t,s] for the indexer's top-k,
recall_oracle for the k largest p (the ceiling), recall_window for 4 sinks + the latest k-4 tokens,
recall_random for k random causal keys (the same draw in every layer), overlap = |indexer set ∩ oracle
set| / k. By position: the same recalls per bucket of query positions (0-1K, 1-2K, 2-4K, 4-8K), which
shows whether an indexer trained on short windows still holds at positions it never saw. The per-layer
probes live in train/probes.py; this file averages them into the report, its table and the command.
Whole model: perplexity with dense attention, with DSA (indexer -> top-k -> sparse) in every layer,
with the window baseline in every layer, and with the oracle top-k in every layer (a reference: the
k keys of largest head-mean dense attention); also over positions ≥ k only, where the modes differ.
Paper: DeepSeek-V3.2-Exp report, sections 2.1 and 3 (they report benchmarks; these are our probes).
Several files: layer numbers are means over files, perplexities pool every scored token.
"""

import argparse
import json
import math
import pathlib
import sys
import time

import torch

from dsa_core.host.indexers import DEFAULT_PATH
from dsa_core.host.logprobs import next_token_logprobs
from dsa_core.host.selects import dsa_select, window_select
from dsa_core.train.positions import average_buckets, bucket_summary
from dsa_core.train.probes import LAYER_KEYS, dense_mean, indexer_topk, layer_metrics, oracle_select


@torch.no_grad()
def evaluate_ids(model, ids, k):
    """One text, indexers attached to model: ids [T] -> {"layers": [...], "nll": {mode: [T-1] tensor}}."""
    ids = torch.as_tensor(ids, device=model.embed_tokens.weight.device).reshape(1, -1)  # [1, T]
    n_layers = len(model.layers)
    h, acts = model.hidden(ids, keep=set(range(n_layers)))  # one dense pass: every layer's x, q, k
    layers = []
    for layer in range(n_layers):
        x, q, key = acts.pop(layer)[:3]
        mean = dense_mean(q, key)  # [T, T]
        idx = indexer_topk(model.layers[layer].self_attn.indexer, x, k)  # [T, K]
        layers.append({"layer": layer, **layer_metrics(mean, idx, k)})
    nll = {"dense": -next_token_logprobs(model, ids, h=h[0])[0]}  # the dense run above [T-1]
    for mode, select in (("dsa", dsa_select(k)), ("window", window_select(k)), ("oracle", oracle_select(k))):
        nll[mode] = -next_token_logprobs(model, ids, select)[0]  # [T-1]
    return {"layers": layers, "nll": nll}


def perplexities(nlls, k):
    """{mode: [T-1] nll} per text -> perplexity over all tokens and over predictions from positions ≥ k."""
    out = {}
    for mode in nlls[0]:
        every = torch.cat([n[mode] for n in nlls])
        late = torch.cat([n[mode][k:] for n in nlls])  # nll[t] predicts token t+1 from ≤ t
        out[mode] = math.exp(every.mean().item())
        out[f"{mode}_beyond_k"] = math.exp(late.mean().item()) if len(late) else float("nan")
    out["dsa_vs_dense"] = out["dsa"] / out["dense"] - 1
    out["dsa_vs_dense_beyond_k"] = out["dsa_beyond_k"] / out["dense_beyond_k"] - 1
    return out


def evaluate_files(loaded, paths, k, tokens=2048):
    """The full report (the --json schema): {"k", "tokens", "files", "layers", "mean", "perplexity"};
    "layers" and "mean" carry "by_position" ({bucket: recalls}, see positions.py)."""
    from dsa_core.analysis.trace import encode

    texts = [(str(p), encode(loaded, open(p, encoding="utf-8").read(), tokens).ids) for p in paths]
    return evaluate_texts(loaded.model, texts, k, tokens)


def evaluate_texts(model, texts, k, tokens):
    """The same report from token ids already cut to `tokens`: {name: ids [T]} or [(name, ids)] -> report."""
    per_file, nlls = [], []
    for name, ids in texts.items() if isinstance(texts, dict) else texts:
        res = evaluate_ids(model, ids, k)
        per_file.append({"file": name, "tokens": len(ids), "layers": res["layers"]})
        nlls.append(res["nll"])
    layers = [
        {"layer": i, **average([f["layers"][i] for f in per_file])} for i in range(len(per_file[0]["layers"]))
    ]
    return {
        "k": k,
        "tokens": tokens,
        "files": per_file,
        "layers": layers,
        "mean": layer_means(layers),
        "perplexity": perplexities(nlls, k),
    }


def average(records):
    """Mean of the five numbers over records (files, windows or layers), and of each bucket's recalls
    over the records that hold it: [{key: float, "by_position": {...}}] -> one such dict."""
    out = {key: sum(r[key] for r in records) / len(records) for key in LAYER_KEYS}
    return {**out, "by_position": average_buckets(records)}


def layer_means(layers):
    """Means over layers of the five numbers, the indexer/oracle ratio, the layers where the indexer
    beats the window, and the same per position bucket: layers [{key: float}] -> the report's "mean"."""
    mean = {key: sum(l[key] for l in layers) / len(layers) for key in LAYER_KEYS}
    mean["indexer_over_oracle"] = mean["recall_indexer"] / mean["recall_oracle"]
    mean["layers_indexer_above_window"] = sum(l["recall_indexer"] > l["recall_window"] for l in layers)
    mean["by_position"] = bucket_summary(layers)
    return mean


def table(report):
    """The report as plain text: one row per layer, then the means and the perplexities."""
    head = f"{'layer':>5} " + " ".join(f"{key:>14}" for key in LAYER_KEYS)
    rows = [
        f"{l['layer']:>5} " + " ".join(f"{l[key]:>14.3f}" for key in LAYER_KEYS) for l in report["layers"]
    ]
    m = report["mean"]
    rows.append(f"{'mean':>5} " + " ".join(f"{m[key]:>14.3f}" for key in LAYER_KEYS))
    p = report["perplexity"]
    rows.append(
        f"indexer/oracle {m['indexer_over_oracle']:.3f}; indexer > window in "
        f"{m['layers_indexer_above_window']}/{len(report['layers'])} layers"
    )
    rows.append(
        f"perplexity (k={report['k']}): dense {p['dense']:.3f}, DSA {p['dsa']:.3f} "
        f"({100 * p['dsa_vs_dense']:+.2f} %), window {p['window']:.3f}; positions ≥ k: dense "
        f"{p['dense_beyond_k']:.3f}, DSA {p['dsa_beyond_k']:.3f} "
        f"({100 * p['dsa_vs_dense_beyond_k']:+.2f} %), "
        f"window {p['window_beyond_k']:.3f}; oracle top-k (reference) {p['oracle']:.3f} "
        f"({100 * (p['oracle'] / p['dense'] - 1):+.2f} %)"
    )
    for b, rec in m["by_position"].items():
        rows.append(
            f"queries at {b:>6}: indexer {rec['recall_indexer']:.3f}, oracle {rec['recall_oracle']:.3f} "
            f"(ratio {rec['indexer_over_oracle']:.3f}), window {rec['recall_window']:.3f}; indexer > window "
            f"in {rec['layers_indexer_above_window']}/{len(report['layers'])} layers"
        )
    return "\n".join([head, *rows])


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="python -m dsa_core.train.evaluate", description=__doc__.splitlines()[0]
    )
    ap.add_argument("files", nargs="+")
    ap.add_argument("--k", type=int, default=128)
    ap.add_argument("--tokens", type=int, default=2048)
    ap.add_argument("--indexers", default=str(DEFAULT_PATH), help="safetensors file (default: shipped)")
    ap.add_argument("--model", default=None, help="GGUF file or HF folder (default: embedded SmolLM2)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (the model and indexers move there)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from dsa_core.train.device import device_name, load_on

    t0 = time.time()
    loaded = load_on(args.model, args.indexers, args.device)
    report = evaluate_files(loaded, args.files, args.k, args.tokens)
    report.update(
        model=loaded.name,
        indexers=pathlib.Path(args.indexers).name,  # the file, not where it sits on this machine
        device=device_name(args.device),
        seconds=round(time.time() - t0, 1),
    )
    sys.stdout.write(json.dumps(report, indent=1) + "\n" if args.json else table(report) + "\n")


if __name__ == "__main__":
    main()
