"""Precompute the stage-1 teacher data: every layer's attention input x for fixed token windows.

    python scripts/data_teacher.py --train 40 --val 4 --tokens 2048     # -> data/teacher/{train,val}/

Why only x: the teacher p (head-summed dense attention) is a cheap function of x and the layer's
frozen q_proj/k_proj, so storing x (float16, [N, T, 576] per layer, 2.4 MB per window and layer) and
recomputing p in the training step is 3.5x smaller than storing q and k and far smaller than p
itself (T² per layer). The model is causal, so x of every prefix of a window is a prefix of x.
Windows: documents of each source (data/corpus/*.{train,val}.txt, see scripts/data_debian.py and
scripts/data_generate.py) are packed with blank lines in between and cut into windows of --tokens.
Mix per window, by source weight; each source's documents are used in a seeded random order.
"""

import argparse
import json
import pathlib
import time

import numpy as np
import torch

from dsa_core.host.load import load_model

ROOT = pathlib.Path(__file__).resolve().parents[1]
WEIGHTS = {"linux_doc": 0.3, "python_doc": 0.2, "perl_doc": 0.15, "fortunes": 0.1, "generated": 0.25}


def windows(tok, split, n, T, seed):
    """n windows of T token ids from the corpus split, sources drawn by WEIGHTS -> int64 [n, T], names."""
    rng = np.random.default_rng(seed)
    corpus = ROOT / "data" / "corpus"
    docs = {
        s: (corpus / f"{s}.{split}.txt").read_text().split("\n\n\n")
        for s in WEIGHTS
        if (corpus / f"{s}.{split}.txt").exists()
    }
    order = {s: list(rng.permutation(len(d))) for s, d in docs.items()}
    names = list(docs)
    p = np.array([WEIGHTS[s] for s in names])
    out, picked = [], []
    for _ in range(20 * n):
        if len(out) == n:
            break
        s = names[rng.choice(len(names), p=p / p.sum())]
        ids = []
        while len(ids) < T and order[s]:
            ids += tok.encode(docs[s][order[s].pop()].strip() + "\n\n").ids
        if len(ids) < T:
            continue  # this source ran out: draw again
        out.append(ids[:T])
        picked.append(s)
    return torch.tensor(out), picked


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=40)
    ap.add_argument("--val", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "data" / "teacher"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lm = load_model()
    model, tok = lm.model, lm.tokenizer
    L, D = model.cfg.n_layers, model.cfg.dim
    for split, n, seed in (("val", args.val, 1), ("train", args.train, 0)):
        ids, sources = windows(tok, split, n, args.tokens, seed)
        out = pathlib.Path(args.out) / split
        out.mkdir(parents=True, exist_ok=True)
        np.save(out / "ids.npy", ids.numpy())
        (out / "sources.json").write_text(json.dumps(sources))
        xs = [
            np.lib.format.open_memmap(
                out / f"x_{layer:02d}.npy", "w+", np.float16, (len(ids), args.tokens, D)
            )
            for layer in range(L)
        ]
        for i in range(len(ids)):
            t0 = time.time()
            with torch.no_grad():
                _, acts = model.hidden(ids[i : i + 1], keep=set(range(L)), stop_after=L - 1)
            for layer in range(L):
                xs[layer][i] = acts[layer][0][0].numpy().astype(np.float16)
            print(f"{split} {i + 1}/{len(ids)} ({sources[i]}) {time.time() - t0:.1f} s", flush=True)
        for x in xs:
            x.flush()
        (out / "done").write_text(str(len(ids)))


if __name__ == "__main__":
    main()
