"""Stage 1 (dense warm-up) for the lightning indexers of every SmolLM2 layer, from the teacher store.

    python scripts/train_indexers.py --layers 0-14  --out data/stage1_a.safetensors   # one process ...
    python scripts/train_indexers.py --layers 15-29 --out data/stage1_b.safetensors   # ... or two
    python scripts/train_indexers.py --merge data/stage1_a.safetensors data/stage1_b.safetensors \
        --out assets/indexers/smollm2_stage1.safetensors

Recipe (DeepSeek-V3.2-Exp paper section 2.1, scaled down; docs/training.md): model frozen, dense
attention; each layer's indexer learns KL(head-summed dense attention ‖ softmax(index scores)) on the
last --queries queries of random-length prefixes of the stored windows (dsa_core.train.stage1).
Logs progress and the held-out metrics to data/logs/<out stem>.json; checkpoints every 50 steps.
"""

import argparse
import json
import sys
import time
from dataclasses import replace

import torch

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from train_store import ROOT, load_store, val_metrics  # noqa: E402

from dsa_core.config import SMOLLM2_HOST
from dsa_core.host.indexers import load_indexers, save_indexers
from dsa_core.host.load import GGUF_NAME, load_model
from dsa_core.train.stage1 import make_indexers, train_indexers

HOST = GGUF_NAME.removesuffix(".gguf")


def parse_layers(spec):
    a, _, b = spec.partition("-")
    return list(range(int(a), int(b or a) + 1))


def merge(paths, out):
    """Join files that hold disjoint layers into one."""
    merged, cfg, recipe = {}, None, []
    for path in paths:
        indexers, cfg, meta = load_indexers(path)
        merged.update({i: ix for i, ix in enumerate(indexers) if ix is not None})
        recipe.append(meta["recipe"])
    save_indexers(out, dict(sorted(merged.items())), cfg, HOST, recipe=" | ".join(dict.fromkeys(recipe)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", default="0-29")
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--queries", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "data" / "stage1.safetensors"))
    ap.add_argument("--merge", nargs="+")
    args = ap.parse_args()
    if args.merge:
        return merge(args.merge, args.out)
    torch.set_num_threads(args.threads)
    layers = parse_layers(args.layers)
    cfg = replace(SMOLLM2_HOST, index_n_heads=args.heads, index_head_dim=args.dim)
    model = load_model().model
    train, val = load_store("train", layers), load_store("val", layers)
    n_train = len(train[layers[0]])
    recipe = (
        f"stage 1 (dense warm-up), KL to head-summed attention; {args.steps} steps x {args.batch} windows "
        f"x {args.queries} queries; AdamW lr {args.lr} cosine; {n_train} train windows of 2048 tokens"
    )
    indexers = make_indexers(cfg, layers, seed=args.seed)
    log_path = ROOT / "data" / "logs" / f"{__import__('pathlib').Path(args.out).stem}.json"
    history, t0 = [], time.time()
    for log in train_indexers(
        model,
        indexers,
        train,
        steps=args.steps,
        lr=args.lr,
        batch_size=args.batch,
        n_queries=args.queries,
        topk=128,
        log_every=10,
        seed=args.seed,
    ):
        history.append(log)
        print(
            f"step {log['step']} loss {log['loss']:.3f} recall {log['recall']:.3f} "
            f"oracle {log['recall_oracle']:.3f} overlap {log['overlap']:.3f} {log['seconds']:.0f} s",
            flush=True,
        )
        if log["step"] % 50 == 0 or log["step"] == args.steps:
            save_indexers(args.out, indexers, cfg, HOST, recipe=recipe)
    val_m = val_metrics(model, indexers, val)
    log_path.write_text(
        json.dumps(
            {
                "args": vars(args),
                "train_windows": n_train,
                "seconds": time.time() - t0,
                "history": history,
                "val": val_m,
            },
            indent=1,
        )
    )
    print(json.dumps(val_m, indent=1))


if __name__ == "__main__":
    main()
