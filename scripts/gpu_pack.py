"""Pack what scripts/gpu_train.py needs on the GPU machine into .gpu/ (git-ignored), within its limits.

    python scripts/gpu_pack.py [--train 1024] [--val 8]

The GPU machine has no network and takes at most 64 MiB of files per call, and the embedded GGUF is
98 MB, so the file is split in two (.gpu/part0, .gpu/part1, sent in two calls and joined there;
.gpu/gguf.sha256 checks the join). Token windows are cut here with the tokenizer and recipe of
scripts/data_teacher.py (uint16, 4 MB per 1,000 windows), and the held-out texts are tokenised by the
same function as `python -m dsa_core.train.evaluate`, so perplexities on both machines score the same ids.
The pure-Python `gguf` package is copied to .gpu/site (the GPU image lacks it).
"""

import argparse
import hashlib
import pathlib
import shutil
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from data_teacher import windows  # noqa: E402

from dsa_core.analysis.trace import encode
from dsa_core.host.load import bundled_gguf_path, load_model

EVAL = [ROOT / "assets" / "texts" / "eval" / f for f in ("handbook_foreword.txt", "handbook_internals.txt")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=1024)
    ap.add_argument("--val", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=2048)
    ap.add_argument("--part0-mb", type=float, help="size of the first part (default: half)")
    args = ap.parse_args()
    out = ROOT / ".gpu"
    out.mkdir(exist_ok=True)
    loaded = load_model()
    arrays = {}
    for split, n, seed in (("train", args.train, 0), ("val", args.val, 1)):
        ids, sources = windows(loaded.tokenizer, split, n, args.tokens, seed)
        arrays[split] = ids.numpy().astype(np.uint16)  # [n, T], vocab < 65536
        print(split, arrays[split].shape, {s: sources.count(s) for s in set(sources)})
    for i, path in enumerate(EVAL):
        arrays[f"eval_{i}"] = np.array(
            encode(loaded, path.read_text(encoding="utf-8"), args.tokens).ids, np.uint16
        )
    arrays["n_eval"] = np.array(len(EVAL))
    np.savez(out / "tokens.npz", **arrays)

    blob = bundled_gguf_path().read_bytes()
    half = int(args.part0_mb * 2**20) if args.part0_mb else len(blob) // 2  # balance the two calls
    (out / "part0").write_bytes(blob[:half])
    (out / "part1").write_bytes(blob[half:])
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
            f"{p.name:<14} {sum(f.stat().st_size for f in p.rglob('*')) if p.is_dir() else p.stat().st_size:>12,} B"
        )


if __name__ == "__main__":
    main()
