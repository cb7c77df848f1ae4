"""The DSA family at 8,192 tokens on one GPU, and a compressed-key indexer trained for all 30 layers.

    python scripts/gpu_family.py --gguf /tmp/dsa/model.gguf --data .gpu/tokens.npz --out OUT [--minutes 4]

1. The family table with the shipped indexers (the published command, with --device cuda):
   `python -m dsa_core.evaluate <the three long held-out texts> --k 128 --tokens 8192 --member
   token,block,compressed,shared,shared-overlap --device cuda --json` -> OUT/family_8192.json, and the
   same on the two Handbook chapters at 2,048 tokens -> OUT/family_2048.json (a check of the CPU table).
2. Stage 1 for pooled keys (dsa_core/family/train.py, c = 4) in every layer, warm-started from the
   shipped indexers, on the long training windows of the --data file (scripts/gpu_pack.py --tokens 8192),
   for --minutes -> OUT/smollm2_compressed_c4.safetensors (same shape as the shipped file).
3. The compressed member with those weights, same command and texts -> OUT/compressed_8192.json and
   OUT/compressed_2048.json.
"""

import argparse
import json
import pathlib
import subprocess
import sys
import time

import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from gpu_train import inputs_on_device  # noqa: E402

from dsa_core.family.train import compressed_recall, train_compressed
from dsa_core.host.indexers import DEFAULT_PATH, load_indexers, save_indexers
from dsa_core.host.load import load_model
from dsa_core.host.model import attach_indexers
from dsa_core.train.device import on_device

EVAL = ROOT / "assets" / "texts" / "eval"
LONG = sorted(str(p) for p in EVAL.glob("long_*.txt"))
SHORT = [str(EVAL / f) for f in ("handbook_foreword.txt", "handbook_internals.txt")]
FAMILY = "token,block,compressed,shared,shared-overlap"


def say(*a):
    print(f"[{time.strftime('%H:%M:%S')}]", *a, flush=True)


def cli(args, files, tokens, members, out, indexers=None):
    """Run `python -m dsa_core.evaluate` (the published command) and save its JSON to out."""
    cmd = [sys.executable, "-m", "dsa_core.evaluate", *files, "--k", "128", "--tokens", str(tokens)]
    cmd += ["--member", members, "--device", args.device, "--model", args.gguf, "--json"]
    cmd += ["--indexers", str(indexers)] if indexers else []
    t0 = time.time()
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if res.returncode:
        say("FAILED", " ".join(cmd), res.stderr[-3000:])
        return None
    out.write_text(res.stdout)
    rep = json.loads(res.stdout)
    say(f"{out.name}: {time.time() - t0:.0f} s; dense ppl {rep['dense_perplexity']:.3f}")
    for v in rep["members"].values():
        ppl = f"ppl {v['perplexity']:.3f} ({v['vs_dense']:+.2%})"
        say(f"  {v['label']:<44} recall {v['mean_recall']:.3f} {ppl}")
    return rep


def train(args, out):
    """Stage 1 for pooled keys in every layer; returns the saved file."""
    device = torch.device(args.device)
    loaded = load_model(args.gguf, cache_dir=args.cache)
    model = on_device(loaded.model, device)
    ixs, cfg, _ = load_indexers(DEFAULT_PATH)
    shipped = [ix.to(device) for ix in ixs]
    attach_indexers(model, shipped)

    def fresh():  # trainable copies of the shipped indexers
        return {l: ix.to(device).train() for l, ix in enumerate(load_indexers(DEFAULT_PATH)[0])}

    trained = fresh()
    data = np.load(args.data)
    windows = torch.from_numpy(data["train"].astype(np.int64))[: args.windows].to(device)  # [N,T]
    val = torch.from_numpy(data["val"].astype(np.int64))[:2].to(device)  # [2,T]
    if args.smoke:  # the code path on the CPU: short windows
        windows, val = windows[:4, :384], val[:, :384]
    x = inputs_on_device(model, windows)  # {layer: float16 [N,T,dim]}
    xv = inputs_on_device(model, val)
    say(f"inputs of {len(windows)} windows x {windows.shape[1]} tokens on the GPU")

    def recalls(indexers, c):
        one = lambda l, i: compressed_recall(model, l, indexers[l], xv[l][i : i + 1].float(), c, 128)
        return [(one(l, 0) + one(l, 1)) / 2 for l in range(len(shipped))]

    report = {"c": args.c, "windows": len(windows), "tokens": int(windows.shape[1])}
    report["val_recall_before"] = recalls(shipped, args.c)
    report["val_recall_token"] = recalls(shipped, 1)
    t0 = time.time()
    list(train_compressed(model, trained, x, args.c, steps=args.probe, batch_size=args.batch, n_queries=512))
    per_step = (time.time() - t0) / args.probe
    steps = max(20, int(args.minutes * 60 / per_step))
    trained = fresh()
    say(f"{per_step:.2f} s/step -> {steps} steps")
    log = []
    for entry in train_compressed(
        model,
        trained,
        x,
        args.c,
        steps=steps,
        lr=args.lr,
        batch_size=args.batch,
        n_queries=512,
        log_every=max(1, steps // 20),
    ):
        log.append({k: v for k, v in entry.items() if k != "layers"})
        say(f"  step {entry['step']}/{steps} loss {entry['loss']:.4f} {entry['seconds']:.0f} s")
    report["val_recall_after"] = recalls(trained, args.c)
    report.update(steps=steps, seconds_per_step=per_step, log=log)
    mean = lambda v: sum(v) / len(v)
    say(
        "held-out recall (2 val windows, last 256 queries): token top-k "
        f"{mean(report['val_recall_token']):.3f}, compressed before {mean(report['val_recall_before']):.3f} "
        f"after {mean(report['val_recall_after']):.3f}"
    )
    path = out / f"smollm2_compressed_c{args.c}.safetensors"
    recipe = (
        f"stage 1 for compressed keys (c = {args.c}, mean-pooled) on one H200: {steps} steps x {args.batch} "
        f"windows x 512 queries, AdamW lr {args.lr} cosine, {len(windows)} windows of {windows.shape[1]} "
        f"tokens, continued from {DEFAULT_PATH.name}"
    )
    save_indexers(path, [trained[l] for l in range(len(shipped))], cfg, "SmolLM2-135M-Instruct.Q4_1", recipe)
    (out / "compressed_train.json").write_text(json.dumps(report, indent=1))
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--cache", default="/tmp/dsa/cache")
    ap.add_argument("--data", default=str(ROOT / ".gpu" / "tokens.npz"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--c", type=int, default=4)
    ap.add_argument("--windows", type=int, default=128)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--probe", type=int, default=3)
    ap.add_argument("--skip-family", action="store_true")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--smoke", action="store_true", help="CPU check: short windows and texts")
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    long, short = (256, 192) if args.smoke else (8192, 2048)
    if not args.skip_family:
        cli(args, LONG, long, FAMILY, out / f"family_{long}.json")
        cli(args, SHORT, short, FAMILY, out / f"family_{short}.json")
    path = train(args, out)
    torch.cuda.empty_cache()
    cli(args, LONG, long, "compressed", out / f"compressed_{long}.json", path)
    cli(args, SHORT, short, "compressed", out / f"compressed_{short}.json", path)
    say("done")


if __name__ == "__main__":
    main()
