"""Pack what scripts/gpu_train.py needs on the GPU machine into .gpu/ (git-ignored), within its limits.

    python scripts/gpu_pack.py [--train 1024] [--val 8]            # 2,048-token windows (first release)
    python scripts/gpu_pack.py --tokens 8192 --train 192 --val 4   # long windows (data_long.py)

The GPU machine has no network and takes at most 64 MiB of files per call, and the embedded GGUF is
98 MB, so the file is split in --parts pieces (.gpu/part0, part1, ..., sent in as many calls and joined
there; three once the working tree holds two indexer files;
.gpu/gguf.sha256 checks the join). Token windows are cut here with the tokenizer and recipe of
scripts/data_teacher.py (uint16, 4 MB per 1,000 windows), or, with --tokens above 2,048, cut from long
documents by scripts/data_long.py, leaving out any document that shares text with an evaluation file
(the check is written to a data_check JSON file in assets/indexers/). The held-out texts are
tokenised by the same
function as `python -m dsa_core.train.evaluate`, so perplexities on both machines score the same ids.
The pure-Python `gguf` package is copied to .gpu/site (the GPU image lacks it).
"""

import argparse
import hashlib
import json
import pathlib
import shutil
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from data_long import disjointness, held_shingles, long_windows  # noqa: E402
from data_teacher import windows  # noqa: E402

from dsa_core.analysis.trace import encode
from dsa_core.host.load import bundled_gguf_path, load_model

EVAL_DIR = ROOT / "assets" / "texts" / "eval"
EVAL = [EVAL_DIR / f for f in ("handbook_foreword.txt", "handbook_internals.txt")]
LONG_EVAL = sorted(EVAL_DIR.glob("long_*.txt"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=1024)
    ap.add_argument("--val", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=2048)
    ap.add_argument("--parts", type=int, default=2, help="pieces of the GGUF, one per call")
    args = ap.parse_args()
    out = ROOT / ".gpu"
    out.mkdir(exist_ok=True)
    loaded = load_model()
    arrays = {}
    held = held_shingles(sorted(EVAL_DIR.glob("*.txt")))
    for split, n, seed in (("train", args.train, 0), ("val", args.val, 1)):
        if args.tokens > 2048:
            ids, sources = long_windows(loaded.tokenizer, split, n, args.tokens, seed, held)
        else:
            ids, sources = windows(loaded.tokenizer, split, n, args.tokens, seed)
        arrays[split] = ids.numpy().astype(np.uint16)  # [n, T], vocab < 65536
        names = ["/".join(s) if isinstance(s, tuple) else s for s in sources]
        counts = {s: names.count(s) for s in sorted(set(names))}
        print(split, arrays[split].shape, counts)
        if args.tokens > 2048:
            train_text = [loaded.tokenizer.decode(w.tolist()) for w in ids]
            check = disjointness(sorted(EVAL_DIR.glob("*.txt")), train_text)
            out_check = ROOT / "assets" / "indexers" / f"data_check_{split}.json"
            out_check.write_text(json.dumps({"windows": counts, "eval_overlap": check}, indent=1))
            print(check)
    texts = EVAL if args.tokens <= 2048 else [*EVAL, *LONG_EVAL]
    for i, path in enumerate(texts):  # the short texts at 2,048 tokens as before, the long ones at --tokens
        limit = 2048 if path in EVAL else args.tokens
        arrays[f"eval_{i}"] = np.array(encode(loaded, path.read_text(encoding="utf-8"), limit).ids, np.uint16)
    arrays["n_eval"] = np.array(len(texts))
    np.savez(out / "tokens.npz", **arrays)

    blob = bundled_gguf_path().read_bytes()
    for old in out.glob("part[0-9]"):
        old.unlink()
    size = -(-len(blob) // args.parts)  # equal pieces, the last one shorter
    for i in range(args.parts):
        (out / f"part{i}").write_bytes(blob[i * size : (i + 1) * size])
    (out / "gguf.sha256").write_text(hashlib.sha256(blob).hexdigest() + "  model.gguf\n")
    import gguf

    shutil.rmtree(out / "site", ignore_errors=True)
    shutil.copytree(
        pathlib.Path(gguf.__file__).parent,
        out / "site" / "gguf",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    for p in sorted(out.iterdir()):
        print(
            f"{p.name:<14} "
            f"{sum(f.stat().st_size for f in p.rglob('*')) if p.is_dir() else p.stat().st_size:>12,} B"
        )


if __name__ == "__main__":
    main()
