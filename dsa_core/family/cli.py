"""`python -m dsa_core.evaluate FILE... --member NAME[,NAME...]`: the family table's command line.

Names: token, block, compressed, shared (in_model.py's members, with the flags' parameters),
shared-overlap (as many computing layers as "shared", chosen by the layer overlap measured on a
calibration text) and compressed-trained (compressed keys scoring with the indexers trained for pooled
keys, assets/indexers/smollm2_compressed_c4.safetensors, c = 4 only; every other member keeps --indexers).
The measurement is measure.py's `report`; `table` prints it, naming the weights each row used.
`--variant` is accepted as another name for `--member` (the flag's name in the run files recorded
before the family had one folder).
"""

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import torch

from dsa_core.analysis.trace import encode
from dsa_core.family import presets, selectors
from dsa_core.family.in_model import Member, parse
from dsa_core.family.measure import mean_recall, overlap_rule, report
from dsa_core.host.indexers import COMPRESSED_C, COMPRESSED_PATH, DEFAULT_PATH

CALIBRATION = Path(__file__).resolve().parents[2] / "assets" / "texts" / "contract.txt"
NAMES = ("token", "block", "compressed", "compressed-trained", "shared", "shared-overlap", "two-level")
PRESETS = {p.slug: p.member for p in presets.PRESETS if p.member is not None}  # the real systems, scaled
HELP = ", ".join(NAMES) + "; presets: " + ", ".join(PRESETS)


def build_members(loaded, names, args):
    """{name: Member} from the command line; 'shared-overlap' measures its rule on the calibration text."""
    out = {}
    for name in names:
        if name == "shared-overlap":
            n = len(selectors.every_r(len(loaded.model.layers), args.every))
            text = Path(args.calibration).read_text(encoding="utf-8")
            cal = encode(loaded, text, min(args.tokens, 2048)).ids
            out[name] = Member("shared", computing=tuple(overlap_rule(loaded.model, cal, args.k, n)[0]))
        elif name == "compressed-trained":
            out[name] = Member("compressed", compress=COMPRESSED_C, weights=str(COMPRESSED_PATH))
        elif name in PRESETS:
            out[name] = PRESETS[name]
        else:
            out[name] = parse(
                name,
                block=args.block,
                pool=args.pool,
                compress=args.compress,
                every=args.every,
                blocks=args.blocks,
            )
    return out


def table(rep):
    """The report as plain text: one row per member, then the per-layer recall."""
    L = len(rep["ideal_recall"])
    ideal, token = mean_recall(rep["ideal_recall"]), mean_recall(rep["token_recall"])
    lines = [
        f"k = {rep['k']}; " + ", ".join(f"{f['file']} ({f['tokens']} tokens)" for f in rep["files"]),
        f"indexers {rep.get('indexers', {}).get('file', '(attached)')} in every row unless its label names "
        "other weights",
        f"ideal top-k recall {ideal:.3f}, token top-k recall {token:.3f}; dense perplexity "
        f"{rep['dense_perplexity']:.3f}",
        f"{'member':<44} {'recall':>7} {'/ideal':>7} {'perplexity':>10} {'vs dense':>9} "
        f"{'indexer MFLOP/token':>20}",
    ]
    for v in rep["members"].values():
        lines.append(
            f"{v['label']:<44} {v['mean_recall']:>7.3f} {v['mean_recall'] / ideal:>7.3f} "
            f"{v['perplexity']:>10.3f} {100 * v['vs_dense']:>+8.2f}% "
            f"{v['indexer_flops_per_token'] / 1e6:>20.2f}"
        )
    lines.append("per-layer recall: " + "layer " + " ".join(f"{l:>5}" for l in range(L)))
    for name, v in [("ideal", {"recall": rep["ideal_recall"]}), *rep["members"].items()]:
        lines.append(
            f"{name:>16}       "
            + " ".join("    -" if x is None else f"{x:5.3f}"[1:] if x < 1 else "1.000" for x in v["recall"])
        )
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m dsa_core.evaluate", description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--member", "--variant", dest="member", required=True, help="comma list of " + HELP)
    ap.add_argument("--k", type=int, default=128)
    ap.add_argument("--tokens", type=int, default=2048)
    ap.add_argument("--block", type=int, default=None, help="block top-n: tokens per block (default k // 16)")
    ap.add_argument("--pool", choices=("max", "mean"), default=None)
    ap.add_argument("--compress", type=int, default=None, help="compressed keys: tokens per pooled key (4)")
    ap.add_argument("--every", type=int, default=4, help="shared: every r-th layer computes (4)")
    ap.add_argument("--blocks", type=int, default=31, help="two-level: candidate blocks besides the own (31)")
    ap.add_argument("--calibration", default=str(CALIBRATION), help="text for shared-overlap's rule")
    ap.add_argument("--indexers", default=None, help="safetensors file (default: shipped)")
    ap.add_argument("--model", default=None, help="GGUF file or HF folder (default: embedded SmolLM2)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--recall-layers", default=None, help="e.g. 0,10,20,29: recall in these layers only")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.member.split(",") if n.strip()]
    bad = [n for n in names if n not in NAMES and n not in PRESETS]
    if bad or not names:
        ap.error(f"unknown member(s) {bad}: choose from {HELP}")
    if "compressed-trained" in names and args.compress not in (None, COMPRESSED_C):
        ap.error(f"compressed-trained's weights fit c = {COMPRESSED_C} only, not --compress {args.compress}")
    if args.threads:
        torch.set_num_threads(args.threads)
    from dsa_core.train.device import device_name, load_on

    t0 = time.time()
    loaded = load_on(args.model, args.indexers, args.device)
    some = args.recall_layers and {int(x) for x in args.recall_layers.split(",")}
    rep = report(
        loaded, args.files, args.k, args.tokens, build_members(loaded, names, args), None, some or None
    )
    path = Path(args.indexers or DEFAULT_PATH)
    rep["indexers"] = {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()[:16]}
    rep["seconds"], rep["device"] = round(time.time() - t0, 1), device_name(args.device)
    sys.stdout.write(json.dumps(rep, indent=1) + "\n" if args.json else table(rep) + "\n")


if __name__ == "__main__":
    main()
