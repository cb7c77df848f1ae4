"""The DSA family as its designers build it, on one GPU: train three members' indexers, then measure
every member and preset at 8,192 tokens on the three long held-out texts (k = 128).

    python scripts/gpu_family_members.py --gguf /tmp/dsa/model.gguf --data .gpu/tokens.npz --out OUT \
        [--seconds 60] [--windows 64]
    python scripts/gpu_family_members.py --smoke --data .gpu/tokens.npz --out /tmp/smoke   # CPU check

Training (dsa_core/family/train.py; the stage-1 recipe: AdamW lr 1e-3, cosine decay, a step scores the
last 512 queries of a random-length prefix of 4 windows; --seconds of training per run, the number of
steps set from a 3-step probe), on the first --windows long training windows of the --data file
(scripts/gpu_pack.py --tokens 8192; disjoint from every evaluation text, its data check is kept):
  1. MSA's block member: one-head indexers (warm start: each layer's strongest shipped head), the KL
     to the block-pooled attention (b = 8, own block left out)            -> BLOCK_PATH
  2. V4's CSA member, seeds 0 and 1: pooled keys (c = 4) with a 28-token window and 4 sink tokens,
     continued from smollm2_compressed_c4.safetensors (4 minutes of pooled-key training already)
                                                                           -> CSA_PATH (seed 0), OUT (seed 1)
  3. IndexCache's training-aware sharing: the indexers of layers 0, 4, …, 28 (from the shipped ones),
     each trained against the mean attention of the layers that reuse its picks -> SHARED_PATH
Each run's held-out loss (2 validation windows, last 512 queries) is recorded before and after.
Evaluation: dsa_core.family.measure.report (what `python -m dsa_core.evaluate ... --member` prints) on
assets/texts/eval/long_*.txt at 8,192 tokens, k = 128, for the members below -> OUT/family_members_8192.json;
the whole record (commands, seeds, steps, losses, data check) -> OUT/family_members_run.json.
"""

import argparse
import copy
import json
import os
import pathlib
import shutil
import sys
import time

import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from gpu_train import inputs_on_device  # noqa: E402

from dsa_core.family import measure, selectors
from dsa_core.family import train as ft
from dsa_core.family.in_model import Member
from dsa_core.family.presets import BLOCK_PATH, CSA_PATH, SHARED_PATH
from dsa_core.host.indexers import COMPRESSED_PATH, DEFAULT_PATH, load_indexers, save_indexers
from dsa_core.host.model import attach_indexers
from dsa_core.train.device import device_name, on_device

LONG = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "assets" / "texts" / "eval").glob("long_*.txt"))
HOST = "SmolLM2-135M-Instruct.Q4_1"
WINDOW, SINK, C, B, EVERY, K = 28, 4, 4, 8, 4, 128


def say(*a):
    print(f"[{time.strftime('%H:%M:%S')}]", *a, flush=True)


def timed_run(name, make, losses, train, inputs, seconds, args, seed=0):
    """Probe 3 steps on a throwaway copy, then train `make()` for about `seconds`; returns (indexers,
    record). losses(indexers) -> held-out loss; train(indexers, steps, seed, log_every) -> generator."""
    probe = make()
    t0 = time.time()
    list(train(probe, 3, seed, 3))
    per_step = (time.time() - t0) / 3
    steps = max(10, int(seconds / per_step)) if not args.smoke else 2
    indexers = make()
    before = losses(indexers)
    log = [
        {k: v for k, v in e.items() if k != "layers"}
        for e in train(indexers, steps, seed, max(1, steps // 10))
    ]
    after = losses(indexers)
    say(f"{name}: {steps} steps at {per_step:.3f} s, held-out loss {before:.4f} -> {after:.4f}")
    record = {"steps": steps, "seconds_per_step": per_step, "seed": seed, "log": log}
    return indexers, record | {"held_out_loss_before": before, "held_out_loss_after": after}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gguf", default=None)
    ap.add_argument("--cache", default="/tmp/dsa/cache")
    ap.add_argument("--data", default=str(ROOT / ".gpu" / "tokens.npz"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--seconds", type=float, default=35.0, help="training time per run")
    ap.add_argument("--windows", type=int, default=32)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--queries", type=int, default=512)
    ap.add_argument("--tokens", type=int, default=8192)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--smoke", action="store_true", help="CPU check: tiny windows, texts and steps")
    args = ap.parse_args()
    args.out = str(pathlib.Path(args.out).resolve())
    os.chdir(ROOT)  # the report names the texts relative to the repository
    if args.smoke:
        args.device, args.windows, args.queries, args.tokens, args.batch = "cpu", 4, 64, 256, 2
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device(args.device)
    t_start = time.time()
    from dsa_core.host.load import load_model

    loaded = load_model(args.gguf, cache_dir=args.cache)
    model = on_device(loaded.model, device)
    shipped, cfg, _ = load_indexers(DEFAULT_PATH)
    attach_indexers(model, [i.to(device) for i in shipped])
    model.requires_grad_(False)
    L = len(model.layers)
    data = np.load(args.data)
    T = 384 if args.smoke else data["train"].shape[1]
    windows = torch.from_numpy(data["train"][: args.windows, :T].astype(np.int64)).to(device)  # [N,T]
    val = torch.from_numpy(data["val"][:2, :T].astype(np.int64)).to(device)  # [2,T]
    x, xv = inputs_on_device(model, windows), inputs_on_device(model, val)  # {layer: fp16 [N,T,dim]}
    say(
        f"{device_name(args.device)}: inputs of {len(windows)} + 2 windows x {T} tokens, "
        f"{time.time() - t_start:.0f} s"
    )
    kw = {"batch_size": args.batch, "n_queries": args.queries, "topk": K}
    n = args.queries
    run = {"device": device_name(args.device), "host": HOST, "windows": len(windows), "tokens": T, "runs": {}}

    def held_out(step_loss, layers):  # mean held-out loss over layers and the 2 validation windows
        with torch.no_grad():
            return sum(float(step_loss(l, xv[l].float())) for l in layers) / len(layers)

    # 1. MSA's block member
    def make_block():
        return {l: ft.one_head(model.layers[l].self_attn.indexer, cfg, xv[l][:, :2048]) for l in range(L)}

    def block_loss(ind):
        return held_out(lambda l, xl: ft.block_step(model, l, ind[l], xl, n, B)[0], range(L))

    def block_train(ind, steps, seed, every):
        return ft.train_block(model, ind, x, b=B, steps=steps, seed=seed, log_every=every, **kw)

    block, run["runs"]["block"] = timed_run(
        "MSA block", make_block, block_loss, block_train, x, args.seconds, args
    )
    steps = run["runs"]["block"]["steps"]
    recipe = f"MSA-style one-head block indexer (b = {B}, KL to block-pooled attention), {steps} steps"
    save_indexers(out / BLOCK_PATH.name, block, replace_heads(cfg, 1), HOST, recipe)

    # 2. V4's CSA member, two seeds, continued from the pooled-key weights
    pooled = load_indexers(COMPRESSED_PATH)[0]

    def make_csa():
        return {l: copy.deepcopy(pooled[l]).to(device) for l in range(L)}

    def csa_loss(ind):
        return held_out(
            lambda l, xl: ft.compressed_step(model, l, ind[l], xl, n, C, WINDOW, SINK)[0], range(L)
        )

    def csa_train(ind, steps, seed, every):
        return ft.train_compressed(model, ind, x, C, steps, WINDOW, SINK, seed=seed, log_every=every, **kw)

    for seed in (0, 1):
        csa, run["runs"][f"csa_seed{seed}"] = timed_run(
            f"CSA seed {seed}", make_csa, csa_loss, csa_train, x, args.seconds, args, seed
        )
        recipe = (
            f"pooled keys c = {C} with a {WINDOW}-token window and {SINK} sink tokens (V4 CSA), seed {seed}, "
            f"{run['runs'][f'csa_seed{seed}']['steps']} steps continued from {COMPRESSED_PATH.name}"
        )
        name = CSA_PATH.name if seed == 0 else CSA_PATH.name.replace(".safetensors", "_seed1.safetensors")
        save_indexers(out / name, csa, cfg, HOST, recipe)

    # 3. IndexCache's training-aware sharing, 1 source in 4
    sources = selectors.every_r(L, EVERY)
    served = {s: [l for l in range(L) if selectors.share_sources(L, sources)[l] == s] for s in sources}

    def make_shared():
        return {s: copy.deepcopy(model.layers[s].self_attn.indexer) for s in sources}

    def shared_loss(ind):
        with torch.no_grad():
            return sum(
                float(ft.shared_step(model, served[s], ind[s], {l: xv[l].float() for l in served[s]}, n))
                for s in sources
            ) / len(sources)

    def shared_train(ind, steps, seed, every):
        return ft.train_shared(model, ind, served, x, steps=steps, seed=seed, log_every=every, **kw)

    shared, run["runs"]["shared"] = timed_run(
        "shared", make_shared, shared_loss, shared_train, x, args.seconds, args
    )
    run["runs"]["shared"]["served"] = served
    recipe = (
        f"IndexCache training-aware sources every {EVERY}th layer, {run['runs']['shared']['steps']} steps"
    )
    save_indexers(out / SHARED_PATH.name, shared, cfg, HOST, recipe)
    x = xv = None  # free the training inputs before the evaluation
    if device.type == "cuda":
        torch.cuda.empty_cache()
    run["training_seconds"] = round(time.time() - t_start, 1)
    (out / "family_members_run.json").write_text(json.dumps(run, indent=1))

    # 4. every member and preset on the held-out texts (the shipped paths, as the CLI reads them)
    block_path, csa_path, shared_path = BLOCK_PATH, CSA_PATH, SHARED_PATH
    if args.smoke:  # the smoke's weights are noise: never beside the shipped ones
        block_path, csa_path, shared_path = (out / f.name for f in (BLOCK_PATH, CSA_PATH, SHARED_PATH))
    else:
        for f in (BLOCK_PATH, CSA_PATH, SHARED_PATH):
            shutil.copy(out / f.name, f)
    seed1 = out / CSA_PATH.name.replace(".safetensors", "_seed1.safetensors")
    csa = {"compress": C, "window": WINDOW, "sink": SINK}
    members = {
        "token": Member("token"),
        "block (b = 8, shipped 4-head indexer)": Member("block", block=B),
        "MSA block (trained)": Member("block", block=B, dot=True, weights=str(block_path)),
        "compressed + window + sink (pooled-key weights)": Member(
            "compressed", **csa, weights=str(COMPRESSED_PATH)
        ),
        "CSA (trained, seed 0)": Member("compressed", **csa, weights=str(csa_path)),
        "CSA (trained, seed 1)": Member("compressed", **csa, weights=str(seed1)),
        "shared every 4th (shipped)": Member("shared", every=EVERY),
        "IndexCache training-aware (1 in 4)": Member("shared", every=EVERY, weights=str(shared_path)),
        "GLM-5.2 IndexShare": Member("shared", every=EVERY, offset=3),
        "HISA (b = 64, 31 blocks)": Member("two-level", block=64, blocks=31),
        "HISA (b = 32, 31 blocks)": Member("two-level", block=32, blocks=31),
        "V4.1 two-level (b = 8, 511 blocks, every 4th)": Member(
            "two-level", block=B, blocks=511, sources=True, every=EVERY
        ),
    }
    t0 = time.time()
    texts = LONG if not args.smoke else LONG[:1]
    rep = measure.report(loaded, texts, K, args.tokens, members)
    rep["seconds"], rep["device"] = round(time.time() - t0, 1), device_name(args.device)
    (out / "family_members_8192.json").write_text(json.dumps(rep, indent=1))
    for name, v in rep["members"].items():
        say(
            f"{name:<48} recall {v['mean_recall']:.3f} jaccard {v['mean_jaccard_vs_token']:.3f} "
            f"ppl {v['perplexity']:.3f} ({v['vs_dense']:+.2%}) "
            f"{v['indexer_flops_per_token'] / 1e6:.2f} MFLOP/token"
        )
    run["eval_seconds"], run["total_seconds"] = rep["seconds"], round(time.time() - t_start, 1)
    (out / "family_members_run.json").write_text(json.dumps(run, indent=1))
    say("done")


def replace_heads(cfg, h):
    from dataclasses import replace

    return replace(cfg, index_n_heads=h)


if __name__ == "__main__":
    main()
