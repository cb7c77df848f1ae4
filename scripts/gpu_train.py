"""Stage 1 and stage 2 of DeepSeek's indexer recipe on one GPU, for the embedded SmolLM2 (docs/training.md).

    python scripts/gpu_pack.py                      # here: split the GGUF, tokenise the corpus -> .gpu/
    python scripts/gpu_train.py --gguf /tmp/dsa/model.gguf --data .gpu/tokens.npz --out OUT

Stage 1 (dense warm-up) trains one indexer per layer for each --configs spec from the frozen model's
own attention (dsa_core.train.stage1.train_indexers), on the attention inputs of --stage1-windows
windows kept on the GPU; each spec gets --stage1-minutes (steps = budget / the time of a probe).
A spec is HxD (heads x dim), then optionally rR (RoPE on the first R dims; default: the config's
rule) and w (warm start: continue from the --init file instead of fresh weights, --warm-minutes).
The spec with the best held-out recall/oracle ratio is evaluated on the held-out texts (evaluate.py's
report, with recall by position: gpu_eval.json), next to the --init file, and goes on to stage 2
(sparse training, dsa_core.train.stage2): for each k in --ks a fresh copy of the model and those
indexers trains for --stage2-steps (or until --stage2-minutes) with DSA in every layer; a dense
control run trains the same way with dense attention.
Perplexity on the held-out texts (the ids in the --data file, tokenised by gpu_pack.py exactly as
`python -m dsa_core.train.evaluate` does) is measured before and after.
Writes OUT/stage1_<spec>.safetensors, OUT/stage2_k<k>_indexers.safetensors, OUT/gpu_eval.json and
OUT/gpu_train.json.
--smoke runs every step on a small random 2-layer model for a few steps (checks the code on the device).
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

from dsa_core.config import SMOLLM2_HOST
from dsa_core.host.indexers import load_indexers, save_indexers
from dsa_core.host.logprobs import next_token_logprobs
from dsa_core.host.model import ModelConfig, Transformer, attach_indexers
from dsa_core.host.selects import dsa_select, window_select
from dsa_core.train.device import on_device
from dsa_core.train.evaluate import evaluate_texts, layer_means
from dsa_core.train.probes import oracle_select
from dsa_core.train.stage1 import layer_inputs, make_indexers, train_indexers
from dsa_core.train.stage2 import train_sparse

HOST = "SmolLM2-135M-Instruct.Q4_1"


def say(*a):
    print(f"[{time.strftime('%H:%M:%S')}]", *a, flush=True)


def load(args, device):
    """(model on device, DSAConfig base) from the GGUF, or a random 2-layer model with --smoke."""
    if args.smoke:
        torch.manual_seed(0)
        # small widths: the smoke run checks that every step runs, not what it learns
        cfg = ModelConfig(
            n_layers=2, dim=64, n_heads=4, n_kv_heads=2, head_dim=16, hidden_dim=128, max_seq_len=2048
        )
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
    """Per layer, mean over windows: evaluate.py's numbers (train_store.val_metrics); plus their means."""
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


def parse_spec(spec, dim):
    """ "4x64r32w" -> (DSAConfig with 4 heads x 64 dims, RoPE on 32, k = 128; True = warm start).
    Length suffixes, read by length_mix: s = prefixes of 2,048 tokens at most, m = half the steps so."""
    warm = spec.endswith("w")
    shape, _, rope = spec.rstrip("wsm").partition("r")
    h, d = (int(v) for v in shape.split("x"))
    cfg = replace(SMOLLM2_HOST, dim=dim, index_n_heads=h, index_head_dim=d, index_topk=128)
    return (replace(cfg, index_rope_head_dim=int(rope)) if rope else cfg), warm


def length_mix(spec):
    """Spec suffix -> train_indexers' (short_len, short_share): s = short only, m = a mix."""
    tail = spec.rstrip("w")
    return {"s": (2048, 1.0), "m": (2048, 0.5)}.get(tail[-1], (None, 0.0))


def stage1(args, model, train, val, device):
    x = inputs_on_device(model, train[: args.stage1_windows])
    say(
        f"attention inputs of {len(next(iter(x.values())))} windows kept on {device}"
        + (f": {torch.cuda.memory_allocated() / 2**30:.1f} GiB allocated" if device.type == "cuda" else "")
    )
    results = {}
    for spec in args.configs.split(","):
        cfg, warm = parse_spec(spec, model.cfg.dim)
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
        minutes = args.warm_minutes if warm else args.stage1_minutes
        fixed = args.warm_steps if warm and args.warm_steps else args.steps
        steps = fixed or max(20, int(minutes * 60 / per_step))
        short_len, short_share = length_mix(spec)
        say(f"stage 1 {spec}: {per_step:.3f} s/step -> {steps} steps")
        if warm:  # continue from the --init file (trained on shorter windows)
            ixs, init_cfg, _ = load_indexers(args.init)
            if (init_cfg.index_n_heads, init_cfg.index_head_dim, init_cfg.index_rope_dim) != (
                cfg.index_n_heads,
                cfg.index_head_dim,
                cfg.index_rope_dim,
            ):
                raise ValueError(f"{spec}: --init has another indexer shape")
            indexers = {l: ixs[l].to(device).train() for l in layers}
        else:
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
            short_len=short_len,
            short_share=short_share,
        ):
            history.append({k: v for k, v in log.items() if k != "layers"})
            say(
                f"  {spec} step {log['step']}/{steps} loss {log['loss']:.3f} recall {log['recall']:.3f} "
                f"oracle {log['recall_oracle']:.3f} overlap {log['overlap']:.3f}"
            )
        recipe = (
            f"stage 1 (dense warm-up) on one H200: {steps} steps x {args.batch} windows x {args.queries} "
            f"queries, AdamW lr {args.lr} cosine, {len(next(iter(x.values())))} windows of "
            f"{train.shape[1]} tokens"
            + (f", continued from {pathlib.Path(args.init).name}" if warm else "")
            + (f", {short_share:.0%} of the steps on prefixes <= {short_len}" if short_len else "")
        )
        path = pathlib.Path(args.out) / f"stage1_{spec}.safetensors"
        save_indexers(path, indexers, cfg, HOST, recipe=recipe)
        val_m = held_out_recall(model, indexers, val)
        m = val_m["mean"]
        say(
            f"stage 1 {spec} held-out: "
            + json.dumps({k: round(v, 4) for k, v in m.items() if k != "by_position"})
            + " by position "
            + json.dumps({b: round(v["indexer_over_oracle"], 4) for b, v in m["by_position"].items()})
        )
        results[spec] = {
            "short_len": short_len,
            "short_share": short_share,
            "rope_dims": cfg.index_rope_dim,
            "warm_start": warm,
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
        micro = max(1, min(args.stage2_batch, 2**20 // (k * train.shape[1])))  # B·T·K = 2^20: under ~70 GB
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
            if args.stage2_minutes and time.time() - t0 > 60 * args.stage2_minutes:
                say(f"  {row['run']}: --stage2-minutes reached, stopping at step {log['step']}")
                break
        row.update(
            seconds=time.time() - t0, history=history, micro_batch=micro, after=perplexities(model, texts, k)
        )
        if mode == "dsa":
            save_indexers(
                pathlib.Path(args.out) / f"stage2_k{k}_indexers.safetensors",
                [b.self_attn.indexer for b in model.layers],
                cfg,
                HOST,
                recipe=f"stage 2 k={k}: {history[-1]['step']} steps x {train.shape[1]} tokens",
            )
        say(f"{row['run']}: before {json.dumps(row['before'])} after {json.dumps(row['after'])}")
        rows.append(row)
        del model
    return rows


def evaluate_phase(args, model, texts, short, best_file, report_path):
    """evaluate.py's report (recall by position included) on the held-out texts: the best stage-1 file
    at every --eval-ks (long texts) and --short-ks (2,048 tokens), the --init file at k = 128 on both."""
    runs = [(best_file, texts, int(k)) for k in args.eval_ks.split(",")]
    runs += [(best_file, short, int(k)) for k in args.short_ks.split(",")]
    runs += [(pathlib.Path(args.init), texts, 128), (pathlib.Path(args.init), short, 128)]
    out = {}
    for path, named, k in runs:
        ixs, _, meta = load_indexers(path)
        attach_indexers(model, [ix.to(next(model.parameters()).device) for ix in ixs])
        T = len(next(iter(named.values())))
        t0 = time.time()
        rep = evaluate_texts(model, named, k, T)
        rep.update(indexers=path.name, recipe=meta.get("recipe", ""), seconds=round(time.time() - t0, 1))
        out[f"{path.name} k={k} T={T}"] = rep
        m, p = rep["mean"], rep["perplexity"]
        say(
            f"eval {path.name} k={k} T={T}: ratio {m['indexer_over_oracle']:.4f}, above window "
            f"{m['layers_indexer_above_window']}/{len(rep['layers'])}, ppl dense {p['dense']:.3f} "
            f"dsa {p['dsa']:.3f} "
            f"oracle {p['oracle']:.3f} window {p['window']:.3f} ({rep['seconds']} s) by position "
            + json.dumps({b: round(v["indexer_over_oracle"], 3) for b, v in m["by_position"].items()})
        )
        report_path.write_text(json.dumps(out, indent=1))
    return out


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
    ap.add_argument(
        "--stage2-minutes", type=float, default=0, help="stop a stage-2 run after this (0: never)"
    )
    ap.add_argument("--warm-minutes", type=float, default=1.5, help="stage-1 budget of a warm-start spec")
    ap.add_argument("--init", default=str(ROOT / "assets" / "indexers" / "smollm2_stage1.safetensors"))
    ap.add_argument("--eval-ks", default="64,128,256,512", help="k for the held-out evaluation (long)")
    ap.add_argument("--short-ks", default="64,128,256", help="k for the held-out evaluation at 2,048")
    ap.add_argument("--no-eval", action="store_true", help="skip the held-out evaluation phase")
    ap.add_argument("--no-stage2", action="store_true", help="stop after stage 1 (a study run)")
    ap.add_argument("--warm-steps", type=int, default=0, help="fixed steps of a warm-start spec")
    ap.add_argument("--stage1-from", help="skip stage 1: start stage 2 from this indexer file")
    ap.add_argument("--no-control", action="store_true", help="skip the dense control run of stage 2")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    pathlib.Path(args.out).mkdir(parents=True, exist_ok=True)
    data = np.load(args.data)
    train = torch.from_numpy(data["train"].astype(np.int64)).to(device)  # [N, T]
    val = torch.from_numpy(data["val"].astype(np.int64))[: args.val_windows].to(device)  # [n, T]
    texts = [
        torch.from_numpy(data[f"eval_{i}"].astype(np.int64)).to(device) for i in range(int(data["n_eval"]))
    ]
    if args.smoke:
        train, val, texts = train[:16, :512], val[:1, :512], [t[:512] for t in texts]
    long = [t for t in texts if len(t) > 2048] or texts  # held-out texts at the training length
    short = {f"eval_{i}": t for i, t in enumerate(texts) if len(t) <= 2048}
    t0 = time.time()
    model = on_device(load(args, device), device)
    say(
        f"model on {device} in {time.time() - t0:.1f} s; {len(train)} train windows of {train.shape[1]}, "
        f"torch {torch.__version__}"
    )
    if args.smoke:  # a random model: the --init file is a seeded one of the first spec's shape
        args.init = str(pathlib.Path(args.out) / "smoke_init.safetensors")
        cfg = parse_spec(args.configs.split(",")[0], model.cfg.dim)[0]
        save_indexers(args.init, make_indexers(cfg, range(len(model.layers)), seed=2), cfg, "smoke")
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
    if not args.no_eval:
        named = {f"long_{i}": t for i, t in enumerate(long)}
        evaluate_phase(args, model, named, short or named, start, pathlib.Path(args.out) / "gpu_eval.json")
    if not args.no_stage2:
        report["stage2"] = stage2(args, model, start, train, long)
    report["seconds"] = time.time() - t0
    write()
    say(f"done in {report['seconds']:.0f} s")


if __name__ == "__main__":
    main()
