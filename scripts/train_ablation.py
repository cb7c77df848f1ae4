"""Indexer-size ablation: held-out recall vs index heads h and head dim d, on a few layers.

    python scripts/train_ablation.py --layers 3 14 25 --steps 150 --configs 1x64 2x64 4x32 4x64 8x32 16x16

Every config stays "lightning": h·d ≤ 288 multiply-adds per query-key pair, a quarter of the main
attention's 9 heads × (64 + 64) = 1152. Same data, seed, steps and learning rate for all configs;
recall at k = 128 on the held-out windows of the teacher store (scripts/data_teacher.py).
Writes data/ablation.json and prints a markdown table (docs/training.md quotes it).
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
from dsa_core.host.load import load_model
from dsa_core.train.stage1 import make_indexers, train_indexers


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, nargs="+", default=[3, 14, 25])
    ap.add_argument("--configs", nargs="+", default=["1x64", "2x64", "4x32", "4x64", "8x32", "16x16"])
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--train-windows", type=int, default=None)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--queries", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model().model
    train = load_store("train", args.layers, args.train_windows)
    val = load_store("val", args.layers)
    results = []
    for name in args.configs:
        h, d = map(int, name.split("x"))
        cfg = replace(SMOLLM2_HOST, index_n_heads=h, index_head_dim=d)
        indexers = make_indexers(cfg, args.layers)
        t0 = time.time()
        for log in train_indexers(
            model,
            indexers,
            train,
            steps=args.steps,
            lr=args.lr,
            batch_size=args.batch,
            n_queries=args.queries,
            topk=128,
            log_every=50,
        ):
            print(f"{name} step {log['step']} loss {log['loss']:.3f} recall {log['recall']:.3f}", flush=True)
        metrics = val_metrics(model, indexers, val)
        params = sum(p.numel() for p in indexers[args.layers[0]].parameters())
        results.append(
            {
                "config": name,
                "h": h,
                "d": d,
                "macs_per_pair": h * d,
                "params_per_layer": params,
                "train_seconds": time.time() - t0,
                "train_loss": log["loss"],
                "layers": metrics,
            }
        )
        (ROOT / "data" / "ablation.json").write_text(json.dumps(results, indent=1))
    print(
        "| h × d | MACs/pair | params/layer | "
        + " | ".join(f"layer {l} recall (oracle, window)" for l in args.layers)
        + " | mean recall / oracle |"
    )
    print("|---" * (4 + len(args.layers)) + "|")
    for r in results:
        m = r["layers"]
        cells = [
            f"{m[l]['recall_indexer']:.3f} ({m[l]['recall_oracle']:.3f}, {m[l]['recall_window']:.3f})"
            for l in args.layers
        ]
        ratio = sum(m[l]["recall_indexer"] / m[l]["recall_oracle"] for l in args.layers) / len(args.layers)
        print(
            f"| {r['h']} × {r['d']} | {r['macs_per_pair']} | {r['params_per_layer']:,} | "
            + " | ".join(cells)
            + f" | {ratio:.3f} |"
        )


if __name__ == "__main__":
    main()
