"""Long text for the 8,192-token indexers: training windows cut from long documents, held-out long
texts, and a check that the two share no text.

    python scripts/data_debian.py --no-download   # first: data/corpus/ (see that script)
    python scripts/data_long.py                    # -> assets/texts/eval/long_*.txt
    python scripts/gpu_pack.py --tokens 8192       # windows + the disjointness check (gpu_pack.py)

Training windows (long_windows): each document of 8,192 tokens or more (linux-doc, python3.11-doc and
perl-doc pages, data/corpus/*.train.txt) gives consecutive non-overlapping windows from its start,
so a window is one document read in order, with its long-range references (a definition early, its
use thousands of tokens later). Shorter documents are used only when the long ones run out: then
neighbouring pages of the same source (file order, so the same folder) are packed together.

Held-out long texts (assets/texts/eval/long_*.txt), none from a training source:
  long_gpl3.txt               GNU GPL version 3 (/usr/share/common-licenses/GPL-3, Debian base-files);
                              verbatim copying is permitted by the licence itself
  long_python_ftplib.txt      Lib/ftplib.py of CPython 3.11.7 (PSF License 2.0)
  long_handbook_virtualization.txt  "The Debian Administrator's Handbook", section 9.2 Virtualization
                              (CC-BY-SA-3.0 or GPL-2+), the same held-out book as the 2,048-token texts
Disjointness: training documents that share more than MAX_SHARED 8-word sequences with any evaluation
text are left out (GPL notices in driver pages, the ftplib manual page); disjointness() then counts
each evaluation text's 8-word sequences found in the training windows actually used (the model card).
"""

import pathlib
import re
import sys
import sysconfig

import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from data_debian import handbook_text  # noqa: E402

CORPUS = ROOT / "data" / "corpus"
EVAL = ROOT / "assets" / "texts" / "eval"
WEIGHTS = {"linux_doc": 0.35, "python_doc": 0.35, "perl_doc": 0.3}
MAX_SHARED = 10  # 8-word sequences a training document may share with the held-out texts
GPL3 = pathlib.Path("/usr/share/common-licenses/GPL-3")
FTPLIB = pathlib.Path(sysconfig.get_paths()["stdlib"]) / "ftplib.py"
HEADERS = {
    "long_gpl3.txt": "# GNU General Public License version 3 (Free Software Foundation), verbatim. "
    "Held out: never used for training.\n\n",
    "long_python_ftplib.txt": "# Lib/ftplib.py from CPython 3.11.7, PSF License 2.0. "
    "Held out: never used for training.\n\n",
    "long_handbook_virtualization.txt": '# From "The Debian Administrator\'s Handbook" (debian-handbook '
    "11.20220922, en-US), section Virtualization, by Raphael Hertzog and Roland Mas, CC-BY-SA-3.0 or "
    "GPL-2+. Held out: never used for training.\n\n",
}


def eval_texts():
    """{file name: text} of the held-out long texts (header included)."""
    bodies = {
        "long_gpl3.txt": GPL3.read_text(),
        "long_python_ftplib.txt": FTPLIB.read_text(),
        "long_handbook_virtualization.txt": handbook_text(["sect.virtualization.html"], max_chars=60000),
    }
    return {name: HEADERS[name] + body.strip() + "\n" for name, body in bodies.items()}


def long_windows(tok, split, n, T, seed, held=frozenset()):
    """n windows of T token ids -> (int64 [n, T], [(source, "long" or "packed")]): every window cut
    from a document of >= T tokens first (sources mixed by WEIGHTS), then packed neighbours.
    Documents sharing more than MAX_SHARED 8-word sequences with the `held` set are left out."""
    rng = np.random.default_rng(seed)
    long, packed = {s: [] for s in WEIGHTS}, {s: [] for s in WEIGHTS}
    for s in WEIGHTS:
        buf = []
        for doc in (CORPUS / f"{s}.{split}.txt").read_text().split("\n\n\n"):
            if len(shingles(doc) & held) > MAX_SHARED:
                continue  # e.g. a driver page quoting the GPL notice, the ftplib manual page
            ids = tok.encode(doc.strip() + "\n\n").ids
            if len(ids) >= T:
                long[s] += [ids[i : i + T] for i in range(0, len(ids) - T + 1, T)]
            else:
                buf += ids
                while len(buf) >= T:
                    packed[s].append(buf[:T])
                    buf = buf[T:]
    out, kinds = [], []
    for pool, kind in ((long, "long"), (packed, "packed")):
        for s in WEIGHTS:
            rng.shuffle(pool[s])
        while len(out) < n and any(pool.values()):
            names = [s for s in WEIGHTS if pool[s]]
            p = np.array([WEIGHTS[s] for s in names])
            s = names[rng.choice(len(names), p=p / p.sum())]
            out.append(pool[s].pop())
            kinds.append((s, kind))
    return torch.tensor(out[:n]), kinds[:n]


def shingles(text, n=8):
    """Set of n-word sequences (lower-case words of letters and digits)."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def held_shingles(paths):
    """Every 8-word sequence of the evaluation texts (held out at 2,048 and 8,192 tokens)."""
    return frozenset().union(*(shingles(pathlib.Path(p).read_text()) for p in paths))


def disjointness(eval_paths, train_texts):
    """{eval file: {"shared": 8-word sequences also in the training text, "share": fraction of its own}}."""
    seen = set().union(*(shingles(t) for t in train_texts))
    out = {}
    for p in eval_paths:
        mine = shingles(pathlib.Path(p).read_text())
        out[pathlib.Path(p).name] = {
            "shared": len(mine & seen),
            "share": round(len(mine & seen) / len(mine), 5),
        }
    return out


def main():
    for name, text in eval_texts().items():
        (EVAL / name).write_text(text)
        print(name, len(text), "characters")


if __name__ == "__main__":
    main()
