"""Two-level selection (HISA) without training: how much of token top-k's set it keeps, and at what
indexer cost, for several block sizes and candidate counts. CPU, shipped indexers, no model runs with it.

    python scripts/family_two_level_sweep.py [--tokens 8192] [--k 128] [--layers 0,5,10,15,20,25,29] \
        [--out assets/indexers/runs/cpu_two_level_sweep_8192.json]

For each long held-out text (assets/texts/eval/long_*.txt) and each sampled layer: token top-k and each
configuration's picks through dsa_core.family.in_model.layer_picks (the pipeline), the Jaccard overlap
|S ∩ S_token| / |S ∪ S_token| and the share of token top-k's picks kept, mean over the queries that see
more than k keys; the indexer FLOPs of each configuration over token top-k's from the cost model
(family/cost.member_cost, one layer, a prefill of --tokens). Prints a table and writes the JSON.
"""

import argparse
import json
import pathlib
import sys
import time

import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dsa_core.analysis.trace import encode  # noqa: E402
from dsa_core.cost import flops  # noqa: E402
from dsa_core.family import cost, selectors  # noqa: E402
from dsa_core.family.in_model import Member, layer_picks  # noqa: E402
from dsa_core.host.indexers import load_with_indexers  # noqa: E402
from dsa_core.train.stage1 import layer_inputs  # noqa: E402

CONFIGS = {  # name: Member (two-level, pooled-key blocks as HISA describes)
    "b = 64, 32 blocks": Member("two-level", block=64, blocks=31),
    "b = 64, 32 blocks, first block kept": Member("two-level", block=64, blocks=31, sink=1),
    "b = 32, 64 blocks, first block kept": Member("two-level", block=32, blocks=63, sink=1),
    "b = 16, 128 blocks, first block kept": Member("two-level", block=16, blocks=127, sink=1),
    "b = 64, 48 blocks, first block kept": Member("two-level", block=64, blocks=47, sink=1),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=8192)
    ap.add_argument("--k", type=int, default=128)
    ap.add_argument("--layers", default="0,5,10,15,20,25,29")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    layers = [int(x) for x in args.layers.split(",")]
    loaded, note = load_with_indexers()
    model, k = loaded.model, args.k
    texts = sorted((ROOT / "assets" / "texts" / "eval").glob("long_*.txt"))
    per = {n: {"jaccard": [], "kept": []} for n in CONFIGS}
    t0 = time.time()
    with torch.no_grad():
        for path in texts:
            ids = torch.tensor(encode(loaded, path.read_text(encoding="utf-8"), args.tokens).ids)[
                None
            ]  # [1,T]
            rows = torch.arange(ids.shape[1]) + 1 > k  # queries that see more than k keys
            xs = layer_inputs(model, ids, layers)
            for layer in layers:
                ind = model.layers[layer].self_attn.indexer
                token = layer_picks(ind, xs[layer], Member("token"), k)[0]  # [T,k]
                for name, v in CONFIGS.items():
                    picks = layer_picks(ind, xs[layer], v, k)[0]  # [T,k]
                    jac = selectors.jaccard_rows(token, picks)[rows].mean().item()
                    both = jac * 2 * k / (1 + jac)  # |A ∩ B| when both hold k picks
                    per[name]["jaccard"].append(jac)
                    per[name]["kept"].append(both / k)
                print(f"{path.name} layer {layer}: {time.time() - t0:.0f} s", flush=True)
    shape = flops.SMOLLM2
    base = cost.member_cost(shape, args.tokens)["indexer/qk_macs"]
    out = {
        "tokens": args.tokens,
        "k": k,
        "layers": layers,
        "texts": [p.name for p in texts],
        "indexers": note,
    }
    out["configs"] = {}
    for name, v in CONFIGS.items():
        c = cost.member_cost(shape, args.tokens, "two-level", **v.cost_kwargs(k, len(model.layers)))
        jac = per[name]["jaccard"]
        out["configs"][name] = {
            "member": {f: getattr(v, f) for f in v.__dataclass_fields__},
            "mean_jaccard": sum(jac) / len(jac),
            "min_jaccard": min(jac),
            "mean_share_of_token_picks_kept": sum(per[name]["kept"]) / len(jac),
            "indexer_flops_vs_token": c["indexer/qk_macs"] / base,
            "jaccard_by_text_and_layer": jac,
        }
        print(
            f"{name:<40} Jaccard {out['configs'][name]['mean_jaccard']:.3f} (min {min(jac):.3f}) "
            f"indexer FLOPs {out['configs'][name]['indexer_flops_vs_token']:.3f} of token top-k"
        )
    out["seconds"] = round(time.time() - t0, 1)
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
