"""Stage 1 and stage 2 of DeepSeek's indexer recipe on one GPU, for the embedded SmolLM2 (docs/training.md).

    python scripts/gpu_pack.py                      # here: split the GGUF, tokenise the corpus -> .gpu/
    python scripts/gpu_train.py --gguf /tmp/dsa/model.gguf --data .gpu/tokens.npz --out OUT

Stage 1 (dense warm-up) trains one indexer per layer for each --configs size (heads x dim) from the
frozen model's own attention (dsa_core.train.stage1.train_indexers), on the attention inputs of
--stage1-windows windows kept on the GPU; each size gets --stage1-minutes (steps = budget / the time
of a probe). The size with the best held-out recall/oracle ratio goes on to stage 2 (sparse training,
dsa_core.train.stage2): for each k in --ks a fresh copy of the model and those indexers trains for
--stage2-steps with DSA in every layer; a dense control run trains the same way with dense attention.
Perplexity on the held-out texts (the ids in the --data file, tokenised by gpu_pack.py exactly as
`python -m dsa_core.train.evaluate` does) is measured before and after.
Writes OUT/stage1_<h>x<d>.safetensors, OUT/stage2_k<k>_indexers.safetensors and OUT/gpu_train.json.
--smoke runs every step on a random 2-layer model for a few steps (checks the code on the device).
"""

import argparse
import copy
import json
import math
import pathlib
import sys
import time
from dataclasses import replace

import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from train_store import val_metrics  # noqa: E402

from dsa_core import indexer as indexer_mod
from dsa_core import sparse as sparse_mod
from dsa_core.analysis.trace import next_token_logprobs
from dsa_core.config import SMOLLM2_HOST
from dsa_core.dsa import dsa_select
from dsa_core.host.indexers import save_indexers
from dsa_core.host.model import ModelConfig, Transformer, attach_indexers
from dsa_core.host.selects import window_select
from dsa_core.train.evaluate import layer_means, oracle_select
from dsa_core.train.stage1 import layer_inputs, make_indexers, train_indexers
from dsa_core.train.stage2 import train_sparse

HOST = "SmolLM2-135M-Instruct.Q4_1"


def say(*a):
    print(f"[{time.strftime('%H:%M:%S')}]", *a, flush=True)


def load(args, device):
    """(model on device, DSAConfig base) from the GGUF, or a random 2-layer model with --smoke."""
    if args.smoke:
        torch.manual_seed(0)
        cfg = ModelConfig(n_layers=2, max_seq_len=2048)
        return Transformer(cfg).to(device).eval()
    from dsa_core.host.load import load_model

    return load_model(args.gguf, cache_dir=args.cache).model.to(device)


def inputs_on_device(model, windows, chunk=8):
    """{layer: float16 attention inputs [N,T,dim]} for all layers, kept on the GPU."""
    L = len(model.layers)
    out = None
    for s in range(0, len(windows), chunk):
        xs = layer_inputs(model, windows[s : s + chunk], range(L))
        if out is None:
            out = {
                l: torch.empty(len(windows), *xs[l].shape[1:], dtype=torch.float16, device=windows.device)
                for l in range(L)
            }
        for l in range(L):
            out[l][s : s + chunk] = xs[l].half()
    return out


def held_out_recall(model, indexers, windows, k=128):
    """Per layer, mean over windows: the five evaluate.py numbers (train_store.val_metrics); plus their means."""
    per = val_metrics(model, indexers, inputs_on_device(model, windows), k)
    return {"layers": per, "mean": layer_means(list(per.values()))}


@torch.no_grad()
def perplexity(model, texts, select):
    nll = torch.cat([-next_token_logprobs(model, ids, select)[0] for ids in texts])
    return math.exp(nll.mean().item())


def perplexities(model, texts, k):
    """Perplexity on the held-out texts: dense, DSA, window and oracle top-k in every layer."""
    return {
        "dense": perplexity(model, texts, None),
        "dsa": perplexity(model, texts, dsa_select(k)),
        "window": perplexity(model, texts, window_select(k)),
        "oracle": perplexity(model, texts, oracle_select(k)),
    }


def stage1(args, model, train, val, device):
    x = inputs_on_device(model, train[: args.stage1_windows])
    say(
        f"attention inputs of {len(next(iter(x.values())))} windows kept on {device}"
        + (f": {torch.cuda.memory_allocated() / 2**30:.1f} GiB allocated" if device.type == "cuda" else "")
    )
    results = {}
    for spec in args.configs.split(","):
        h, d = (int(v) for v in spec.split("x"))
        cfg = replace(SMOLLM2_HOST, dim=model.cfg.dim, index_n_heads=h, index_head_dim=d, index_topk=128)
        layers = list(range(len(model.layers)))
        probe = {l: ix.to(device) for l, ix in make_indexers(cfg, layers, seed=1).items()}  # time a few steps
        t0 = time.time()
        for _ in train_indexers(
            model,
            probe,
            x,
            steps=args.probe_steps,
            batch_size=args.batch,
            n_queries=args.queries,
            topk=128,
            log_every=args.probe_steps,
        ):
            pass
        per_step = (time.time() - t0) / args.probe_steps
        steps = args.steps or max(20, int(args.stage1_minutes * 60 / per_step))
        say(f"stage 1 {spec}: {per_step:.3f} s/step -> {steps} steps")
        indexers = {l: ix.to(device) for l, ix in make_indexers(cfg, layers, seed=0).items()}
        history = []
        for log in train_indexers(
            model,
            indexers,
            x,
            steps=steps,
            lr=args.lr,
            batch_size=args.batch,
            n_queries=args.queries,
            topk=128,
            log_every=max(1, steps // 20),
        ):
            history.append({k: v for k, v in log.items() if k != "layers"})
            say(
                f"  {spec} step {log['step']}/{steps} loss {log['loss']:.3f} recall {log['recall']:.3f} "
                f"oracle {log['recall_oracle']:.3f} overlap {log['overlap']:.3f}"
            )
        recipe = (
            f"stage 1 (dense warm-up) on one H200: {steps} steps x {args.batch} windows x {args.queries} "
            f"queries, AdamW lr {args.lr} cosine, {args.stage1_windows} windows of 2048 tokens"
        )
        path = pathlib.Path(args.out) / f"stage1_{spec}.safetensors"
        save_indexers(path, indexers, cfg, HOST, recipe=recipe)
        val_m = held_out_recall(model, indexers, val)
        say(f"stage 1 {spec} held-out: " + json.dumps({k: round(v, 4) for k, v in val_m["mean"].items()}))
        results[spec] = {
            "steps": steps,
            "seconds_per_step": per_step,
            "history": history,
            "val": val_m,
            "file": path.name,
        }
    del x
    torch.cuda.empty_cache() if device.type == "cuda" else None
    return results


def stage2(args, base, indexers_path, train, texts):
    from dsa_core.host.indexers import load_indexers

    rows = []
    runs = [("dense", 128)] * (not args.no_control) + [("dsa", int(k)) for k in args.ks.split(",")]
    for mode, k in runs:
        model = copy.deepcopy(base)
        ixs, cfg, _ = load_indexers(indexers_path)
        attach_indexers(model, [ix.to(train.device) for ix in ixs])
        row = {
            "run": "dense control" if mode == "dense" else f"DSA k={k}",
            "k": k,
            "before": perplexities(model, texts, k),
        }
        micro = max(1, min(args.stage2_batch, 512 // k))  # B·K = 512 keeps autograd's gathers under ~70 GB
        t0, history = time.time(), []
        for log in train_sparse(
            model,
            train,
            topk=k,
            steps=args.stage2_steps,
            lr=args.stage2_lr,
            indexer_lr=args.stage2_indexer_lr,
            batch_size=args.stage2_batch,
            micro_batch=micro,
            dense=mode == "dense",
            log_every=max(1, args.stage2_steps // 10),
        ):
            history.append(log)
            say(f"  {row['run']} step {log['step']} lm {log['lm_loss']:.4f} indexer {log['indexer_loss']}")
        row.update(
            seconds=time.time() - t0, history=history, micro_batch=micro, after=perplexities(model, texts, k)
        )
        if mode == "dsa":
            save_indexers(
                pathlib.Path(args.out) / f"stage2_k{k}_indexers.safetensors",
                [b.self_attn.indexer for b in model.layers],
                cfg,
                HOST,
                recipe=f"stage 2 (sparse training) k={k}, {args.stage2_steps} steps",
            )
        say(f"{row['run']}: before {json.dumps(row['before'])} after {json.dumps(row['after'])}")
        rows.append(row)
        del model
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gguf")
    ap.add_argument("--cache", default="/tmp/dsa/cache")
    ap.add_argument("--data", default=str(ROOT / ".gpu" / "tokens.npz"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--configs", default="4x64,1x64")
    ap.add_argument("--stage1-windows", type=int, default=512)
    ap.add_argument("--stage1-minutes", type=float, default=3.0)
    ap.add_argument("--steps", type=int, default=0, help="fixed stage-1 steps (0 = from the time budget)")
    ap.add_argument("--probe-steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--queries", type=int, default=512)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--val-windows", type=int, default=4)
    ap.add_argument("--ks", default="64,128,256")
    ap.add_argument("--stage2-steps", type=int, default=150)
    ap.add_argument("--stage2-batch", type=int, default=8)
    ap.add_argument("--stage2-lr", type=float, default=2e-5)
    ap.add_argument("--stage2-indexer-lr", type=float, default=1e-4)
    ap.add_argument("--stage1-from", help="skip stage 1: start stage 2 from this indexer file")
    ap.add_argument("--no-control", action="store_true", help="skip the dense control run of stage 2")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    if device.type == "cuda":  # the CPU-cache-sized blocks of these modules are far too small for a GPU;
        sparse_mod.CHUNK_ELEMENTS = indexer_mod.BLOCK_ELEMENTS = 2**26  # results do not depend on them
    pathlib.Path(args.out).mkdir(parents=True, exist_ok=True)
    data = np.load(args.data)
    train = torch.from_numpy(data["train"].astype(np.int64)).to(device)  # [N, T]
    val = torch.from_numpy(data["val"].astype(np.int64))[: args.val_windows].to(device)  # [n, T]
    texts = [
        torch.from_numpy(data[f"eval_{i}"].astype(np.int64)).to(device) for i in range(int(data["n_eval"]))
    ]
    if args.smoke:
        train, val, texts = train[:16, :512], val[:1, :512], [t[:512] for t in texts]
    t0 = time.time()
    model = load(args, device)
    say(
        f"model on {device} in {time.time() - t0:.1f} s; {len(train)} train windows, torch {torch.__version__}"
    )
    report = {
        "args": vars(args),
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
    }
    if args.stage1_from:
        report["stage2_from"] = start = pathlib.Path(args.stage1_from)
    else:
        report["stage1"] = stage1(args, model, train, val, device)
        best = max(report["stage1"], key=lambda s: report["stage1"][s]["val"]["mean"]["indexer_over_oracle"])
        report["stage2_from"] = best
        start = pathlib.Path(args.out) / report["stage1"][best]["file"]
    write = lambda: (pathlib.Path(args.out) / "gpu_train.json").write_text(
        json.dumps(report, indent=1, default=str)
    )
    write()
    report["stage2"] = stage2(args, model, start, train, texts)
    report["seconds"] = time.time() - t0
    write()
    say(f"done in {report['seconds']:.0f} s")


if __name__ == "__main__":
    main()
