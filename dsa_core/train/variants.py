"""The DSA family measured on held-out text, at one token budget k.

    python -m dsa_core.evaluate FILE... --k 128 --variant token,block,compressed,shared,shared-overlap
        [--tokens 2048] [--block B] [--pool max|mean] [--compress C] [--every R] [--calibration FILE] [--json]

For each variant (dsa_core/family.py, in the host through dsa_core/host/variants.py):
- per-layer recall Σ_{s∈S_t} p[t,s] of the head-mean dense attention p (mean over queries that see more
  than k keys), next to the ideal top-k (the k largest p: the ceiling) and today's token top-k;
- whole-model perplexity with the variant in all 30 layers, against dense;
- indexer FLOPs per token of a prefill of this length, whole model, from the cost model
  (cost/family.py `variant_cost`: arithmetic, not a timing).
"shared-overlap" chooses its computing layers (as many as "shared" has) from the layer × layer overlap
of the token top-k measured on a calibration text, never on the evaluated texts.
"""

import argparse
import json
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from dsa_core import family
from dsa_core.analysis.trace import encode, next_token_logprobs
from dsa_core.cost import flops
from dsa_core.cost.family import variant_cost
from dsa_core.host.variants import Variant, layer_picks, parse, variant_select
from dsa_core.metrics import attention_recall, oracle_topk
from dsa_core.train.evaluate import dense_mean

CALIBRATION = Path(__file__).resolve().parents[2] / "assets" / "texts" / "contract.txt"


@torch.no_grad()
def token_picks_all(model, ids, k):
    """Token top-k of every layer's indexer on one text (one dense pass): ids [T] -> L × [T,K]."""
    ids = torch.as_tensor(ids, device=model.embed_tokens.weight.device).reshape(1, -1)  # [1,T]
    _, acts = model.hidden(ids, keep=set(range(len(model.layers))))
    return [
        layer_picks(model.layers[l].self_attn.indexer, acts.pop(l)[0], Variant("token"), k)[0]
        for l in range(len(model.layers))
    ]  # L × [T,K]


def overlap_rule(model, ids, k, n_compute):
    """(computing layers chosen by measured overlap, the [L,L] overlap) on a calibration text."""
    overlap = family.layer_overlap(token_picks_all(model, ids, k))
    return family.by_overlap(overlap.tolist(), n_compute), overlap


@torch.no_grad()
def evaluate_text(model, ids, k, variants, progress=None, recall_layers=None):
    """One text: {"recall": {name: [L floats]}, "nll": {name: [T-1]}} for "ideal", "token" and each variant.

    Shared variants reuse the token top-k of an earlier layer; layers run in order, so it is known.
    recall_layers: measure recall in these layers only (None elsewhere; the dense maps are the slow part).
    """
    ids = torch.as_tensor(ids, device=model.embed_tokens.weight.device).reshape(1, -1)  # [1,T]
    L, T = len(model.layers), ids.shape[1]
    rows = torch.arange(T, device=ids.device) + 1 > k  # queries whose top-k drops something [T]
    sources = {
        n: family.share_sources(L, v.computing_layers(L)) for n, v in variants.items() if v.name == "shared"
    }
    h, acts = model.hidden(ids, keep=set(range(L)))  # one dense pass: every layer's x, q, k
    recall, tokens = {name: [] for name in ["ideal", "token", *variants]}, []
    for l in range(L):
        x, q, key = acts.pop(l)[:3]
        indexer = model.layers[l].self_attn.indexer
        tokens.append(layer_picks(indexer, x, Variant("token"), k)[0])  # [T,K]
        if recall_layers is not None and l not in recall_layers:
            for name in recall:
                recall[name].append(None)
            continue
        p = dense_mean(q, key)  # [T,T]
        picks = {"ideal": oracle_topk(p, k), "token": tokens[l]}
        for name, v in variants.items():
            picks[name] = tokens[sources[name][l]] if name in sources else picks.get(name)
            if picks[name] is None:
                picks[name] = layer_picks(indexer, x, v, k)[0]  # [T,K]
        for name, sel in picks.items():
            recall[name].append(attention_recall(p, sel)[rows].mean().item() if rows.any() else 1.0)
        if progress:
            progress(0.5 * (l + 1) / L, f"recall in layer {l}")
    logits = model.lm_head(h[0, :-1]).float()  # [T-1,V]
    nll = {"dense": -logits.log_softmax(-1).gather(-1, ids[0, 1:, None])[:, 0].cpu()}  # [T-1]
    for i, (name, v) in enumerate(variants.items()):
        if progress:
            progress(0.5 + 0.5 * i / len(variants), f"perplexity with {name} in every layer")
        nll[name] = -next_token_logprobs(model, ids, variant_select(v, k))[0].cpu()  # [T-1]
    return {"recall": recall, "nll": nll}


def indexer_flops_per_token(model, k, T, v):
    """Whole-model indexer FLOPs per token of a T-token prefill under variant v (cost model)."""
    ind, L = model.layers[0].self_attn.indexer, len(model.layers)
    shape = replace(flops.SMOLLM2, index_n_heads=ind.n_heads, index_head_dim=ind.head_dim, index_topk=k)
    kw = {"block": {"b": v.block_size(k)}, "compressed": {"c": v.compress}, "shared": {}}.get(v.name, {})
    if v.name == "shared":
        kw = {"share": len(v.computing_layers(L)) / L}
    return 2 * variant_cost(shape, T, v.name, **kw)["indexer/qk_macs"] * L / T


def build_variants(loaded, names, args):
    """{name: Variant} from the command line; 'shared-overlap' measures its rule on the calibration text."""
    out = {}
    for name in names:
        if name == "shared-overlap":
            n = len(family.every_r(len(loaded.model.layers), args.every))
            text = Path(args.calibration).read_text(encoding="utf-8")
            cal = encode(loaded, text, min(args.tokens, 2048)).ids
            out[name] = Variant("shared", computing=tuple(overlap_rule(loaded.model, cal, args.k, n)[0]))
        else:
            out[name] = parse(
                name, block=args.block, pool=args.pool, compress=args.compress, every=args.every
            )
    return out


def report(loaded, paths, k, tokens, variants, progress=None, recall_layers=None):
    """The --json schema: {"k", "tokens", "files", "variants": {name: {...}}, "ideal", "token", "dense"}."""
    L = len(loaded.model.layers)
    results, files = [], []
    for path in paths:
        ids = encode(loaded, Path(path).read_text(encoding="utf-8"), tokens).ids
        files.append({"file": str(path), "tokens": len(ids)})
        results.append(evaluate_text(loaded.model, ids, k, variants, progress, recall_layers))

    def layers(name):
        per = [[r["recall"][name][l] for r in results] for l in range(L)]
        return [None if None in x else sum(x) / len(x) for x in per]

    def ppl(name):
        return math.exp(torch.cat([r["nll"][name] for r in results]).mean().item())

    out = {"k": k, "tokens": tokens, "files": files, "dense_perplexity": ppl("dense")}
    for name in ("ideal", "token"):
        out[f"{name}_recall"] = layers(name)
    out["variants"] = {}
    for name, v in variants.items():
        per_layer = layers(name)
        out["variants"][name] = {
            "label": v.label(k),
            "computing_layers": v.computing_layers(L) if v.name == "shared" else list(range(L)),
            "recall": per_layer,
            "mean_recall": _mean(per_layer),
            "perplexity": ppl(name),
            "vs_dense": ppl(name) / ppl("dense") - 1,
            "indexer_flops_per_token": indexer_flops_per_token(
                loaded.model, k, max(f["tokens"] for f in files), v
            ),
        }
    return out


def _mean(values):
    """Mean over the layers where recall was measured."""
    values = [v for v in values if v is not None]
    return sum(values) / len(values)


def table(rep):
    """The report as plain text: one row per variant, then the per-layer recall."""
    L = len(rep["ideal_recall"])
    ideal, token = _mean(rep["ideal_recall"]), _mean(rep["token_recall"])
    lines = [
        f"k = {rep['k']}; " + ", ".join(f"{f['file']} ({f['tokens']} tokens)" for f in rep["files"]),
        f"ideal top-k recall {ideal:.3f}, token top-k recall {token:.3f}; dense perplexity "
        f"{rep['dense_perplexity']:.3f}",
        f"{'variant':<44} {'recall':>7} {'/ideal':>7} {'perplexity':>10} {'vs dense':>9} "
        f"{'indexer MFLOP/token':>20}",
    ]
    for v in rep["variants"].values():
        lines.append(
            f"{v['label']:<44} {v['mean_recall']:>7.3f} {v['mean_recall'] / ideal:>7.3f} "
            f"{v['perplexity']:>10.3f} {100 * v['vs_dense']:>+8.2f}% "
            f"{v['indexer_flops_per_token'] / 1e6:>20.2f}"
        )
    lines.append("per-layer recall: " + "layer " + " ".join(f"{l:>5}" for l in range(L)))
    for name, v in [("ideal", {"recall": rep["ideal_recall"]}), *rep["variants"].items()]:
        lines.append(
            f"{name:>16}       "
            + " ".join("    -" if x is None else f"{x:5.3f}"[1:] if x < 1 else "1.000" for x in v["recall"])
        )
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m dsa_core.evaluate", description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument(
        "--variant", required=True, help="comma list of token, block, compressed, shared, shared-overlap"
    )
    ap.add_argument("--k", type=int, default=128)
    ap.add_argument("--tokens", type=int, default=2048)
    ap.add_argument("--block", type=int, default=None, help="block top-n: tokens per block (default k // 16)")
    ap.add_argument("--pool", choices=("max", "mean"), default=None)
    ap.add_argument("--compress", type=int, default=None, help="compressed keys: tokens per pooled key (4)")
    ap.add_argument("--every", type=int, default=4, help="shared: every r-th layer computes (4)")
    ap.add_argument("--calibration", default=str(CALIBRATION), help="text for shared-overlap's rule")
    ap.add_argument("--indexers", default=None, help="safetensors file (default: shipped)")
    ap.add_argument("--model", default=None, help="GGUF file or HF folder (default: embedded SmolLM2)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--recall-layers", default=None, help="e.g. 0,10,20,29: recall in these layers only")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.variant.split(",") if n.strip()]
    bad = [n for n in names if n not in ("token", "block", "compressed", "shared", "shared-overlap")]
    if bad or not names:
        ap.error(f"unknown variant(s) {bad}: choose from token, block, compressed, shared, shared-overlap")
    if args.threads:
        torch.set_num_threads(args.threads)
    from dsa_core.host.indexers import load_default_indexers
    from dsa_core.host.load import load_model

    t0 = time.time()
    loaded = load_model(args.model)
    load_default_indexers(loaded.model, args.indexers)
    from dsa_core.train.device import device_name, on_device

    on_device(loaded.model, args.device)
    some = args.recall_layers and {int(x) for x in args.recall_layers.split(",")}
    rep = report(
        loaded, args.files, args.k, args.tokens, build_variants(loaded, names, args), None, some or None
    )
    import hashlib

    from dsa_core.host.indexers import DEFAULT_PATH

    path = Path(args.indexers or DEFAULT_PATH)
    rep["indexers"] = {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()[:16]}
    rep["seconds"], rep["device"] = round(time.time() - t0, 1), device_name(args.device)
    sys.stdout.write(json.dumps(rep, indent=1) + "\n" if args.json else table(rep) + "\n")


if __name__ == "__main__":
    main()
