"""Training and held-out text for the lightning indexers, from Debian documentation packages.

Recipe (rerunnable; needs network once for `apt-get download`, then works offline):

    python scripts/data_debian.py            # download + extract + clean into data/corpus/
    python scripts/data_debian.py --no-download

Sources and licences (see docs/training.md; the text itself is NOT committed, only these
instructions and the weights trained on it):

  train   linux-doc-6.1   GPL-2                     kernel documentation (RST sources)
  train   python3.11-doc  PSF License               Python documentation (RST sources)
  train   perl-doc        GPL-1+ or Artistic        Perl pods (the perl*delta changelogs are skipped)
  train   fortunes        BSD-style / various       fortune cookies, one quote per paragraph
  held    debian-handbook GPL-2+ or CC-BY-SA-3.0    "The Debian Administrator's Handbook" (en-US HTML)

The held-out source is a different book entirely; three of its chapters, cut to ~2,300 tokens,
are written to assets/texts/eval/ with an attribution header (CC-BY-SA-3.0 allows redistribution).
Each training source is also split by document (hash of the file path) into train (95 %) and
val (5 %), and any paragraph that also occurs in a held-out file is dropped from training.
"""

import argparse
import hashlib
import html.parser
import pathlib
import re
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
EVAL = ROOT / "assets" / "texts" / "eval"
PACKAGES = ["linux-doc-6.1", "python3.11-doc", "perl-doc", "fortunes", "debian-handbook"]
HANDBOOK = "debian-handbook/usr/share/doc/debian-handbook/html/en-US"
EVAL_CHAPTERS = {  # held-out file -> handbook pages, in reading order
    "handbook_foreword.txt": ["foreword.html", "preface.html", "case-study.html", "conclusion.html"],
    "handbook_debian_project.txt": ["the-debian-project.html", "sect.foundation-documents.html"],
    "handbook_internals.txt": ["sect.debian-internals.html"],
}
SKIP_DIRECTIVES = (
    "code-block",
    "code",
    "toctree",
    "kernel-doc",
    "literalinclude",
    "highlight",
    "flat-table",
    "list-table",
    "csv-table",
    "table",
    "c:",
    "py:",
    "rst-class",
    "only",
    "index",
    "include",
    "productionlist",
    "doctest",
    "testcode",
    "testoutput",
    "image",
    "figure",
    "raw",
    "graphviz",
    "digraph",
    "tabularcolumns",
    "cssclass",
    "ifconfig",
)


def download():
    debs = DATA / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", *PACKAGES], cwd=debs, check=True)
    (DATA / "x").mkdir(exist_ok=True)  # dpkg-deb -x creates only the last folder
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(DATA / "x" / deb.name.split("_")[0])], check=True)


def clean_rst(text):
    """Sphinx RST -> prose paragraphs: drop literal blocks, tables and non-prose directives."""
    out, para, skip_indent = [], [], None
    for line in text.splitlines() + [""]:
        indent = len(line) - len(line.lstrip())
        if skip_indent is not None:  # inside a literal block / skipped directive
            if line.strip() == "" or indent > skip_indent:
                continue
            skip_indent = None
        s = line.strip()
        m = re.match(r"\.\. ([\w:-]+)::", s)
        if m and m.group(1).startswith(SKIP_DIRECTIVES) or s.startswith(".. ") and not m:
            skip_indent = indent  # a skipped directive, or a comment / link target
        elif m:  # note, warning, function, ...: keep the body, drop the directive line
            s = s[m.end() :].strip()
        if (
            not s
            or re.fullmatch(r"([=\-~^\"'`#*+<>_:.])\1{2,}", s)
            or s.startswith(("+-", "|", ">>>"))
            or re.match(r"^=+( +=+)+$", s)
        ):
            if para:
                out.append(" ".join(para))
            para = []
            continue
        if skip_indent is None:
            if s.endswith("::"):
                s, skip_indent = s[:-1].rstrip(":") + ("." if s[:-2].strip() else ""), indent
            para.append(s)
    text = "\n".join(out)
    text = re.sub(r":[\w:+-]+:`([^`<]*?)\s*(<[^>]*>)?`", r"\1", text)  # :ref:`text <target>` -> text
    text = re.sub(r"`([^`<]+?)\s*<[^>]+>`_+", r"\1", text)  # `text <url>`_ -> text
    text = re.sub(r"``([^`]+)``|`([^`]+)`_*", lambda m: m.group(1) or m.group(2), text)
    text = re.sub(r"\*\*?([^*\n]+)\*\*?", r"\1", text)
    return [p for p in text.split("\n") if is_prose(p)]


def clean_pod(text):
    """Perl POD -> prose: drop =begin/=end blocks and verbatim (indented) paragraphs."""
    text = re.sub(r"^=begin.*?^=end[^\n]*", "", text, flags=re.S | re.M)
    out = []
    for p in re.split(r"\n\s*\n", text):
        if p[:1] in " \t" or p.startswith(("=cut", "=pod", "=over", "=back", "=encoding", "=for")):
            continue
        p = re.sub(r"^=(head\d|item)\s*", "", p)
        for _ in range(3):  # nested formatting codes B<I<x>>
            p = re.sub(r"[A-Z]<<+\s*(.*?)\s*>+>|[A-Z]<([^<>]*)>", lambda m: m.group(1) or m.group(2) or "", p)
        out.append(" ".join(p.split()))
    return [p for p in out if is_prose(p)]


def is_prose(p, min_words=6):
    letters = sum(c.isalpha() or c.isspace() for c in p)
    return len(p.split()) >= min_words and letters >= 0.8 * len(p)


class _Paras(html.parser.HTMLParser):
    """Collect the text of DocBook <div class="para"> and <h1..h3> elements."""

    def __init__(self):
        super().__init__()
        self.paras, self.buf, self.depth = [], None, 0

    def handle_starttag(self, tag, attrs):
        if self.buf is None and (dict(attrs).get("class") == "para" or tag in ("h1", "h2", "h3")):
            self.buf, self.depth = [], 0
        if self.buf is not None and tag == "div" or tag in ("h1", "h2", "h3"):
            self.depth += 1

    def handle_endtag(self, tag):
        if self.buf is not None and (tag == "div" or tag in ("h1", "h2", "h3")):
            self.depth -= 1
            if self.depth <= 0:
                self.paras.append(" ".join("".join(self.buf).split()))
                self.buf = None

    def handle_data(self, data):
        if self.buf is not None:
            self.buf.append(data)


def handbook_text(pages, max_chars=11000):
    paras = []
    for page in pages:
        parser = _Paras()
        parser.feed((DATA / "x" / HANDBOOK / page).read_text())
        paras += [p for p in parser.paras if p]
    text, out = 0, []
    for p in paras:
        if text > max_chars:
            break
        out.append(p)
        text += len(p) + 2
    return "\n\n".join(out)


def sources():
    x = DATA / "x"
    yield (
        "linux_doc",
        sorted(x.glob("linux-doc-6.1/usr/share/doc/linux-doc-6.1/html/_sources/**/*.txt")),
        clean_rst,
    )
    yield (
        "python_doc",
        sorted(x.glob("python3.11-doc/usr/share/doc/python3.11/html/_sources/**/*.rst.txt")),
        clean_rst,
    )
    yield (
        "perl_doc",
        sorted(p for p in x.glob("perl-doc/usr/share/perl/*/pod/*.pod") if "delta" not in p.name),
        clean_pod,
    )
    fortunes = sorted(
        p
        for p in x.glob("fortunes/usr/share/games/fortunes/*")
        if p.suffix == "" and "ascii-art" not in p.name
    )
    yield (
        "fortunes",
        fortunes,
        lambda t: [" ".join(q.split()) for q in t.split("\n%\n") if len(q.split()) >= 6],
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-download", action="store_true")
    args = ap.parse_args()
    if not args.no_download:
        download()
    EVAL.mkdir(parents=True, exist_ok=True)
    held = set()
    header = (
        '# From "The Debian Administrator\'s Handbook" (debian-handbook 11.20220922, en-US) by '
        "Raphael Hertzog and Roland Mas, CC-BY-SA-3.0 or GPL-2+. Held out: never used for training.\n\n"
    )
    for name, pages in EVAL_CHAPTERS.items():
        text = handbook_text(pages)
        held |= {hashlib.md5(p.encode()).hexdigest() for p in text.split("\n\n")}
        (EVAL / name).write_text(header + text + "\n")
    out = DATA / "corpus"
    out.mkdir(parents=True, exist_ok=True)
    for name, files, clean in sources():
        docs = {"train": [], "val": []}
        for f in files:
            if "translations/" in str(f) or "whatsnew/changelog" in str(f):
                continue
            raw = f.read_bytes().decode("utf-8", "replace")
            paras = [p for p in clean(raw) if hashlib.md5(p.encode()).hexdigest() not in held]
            split = (
                "val"
                if int(hashlib.md5(str(f.relative_to(DATA)).encode()).hexdigest(), 16) % 20 == 0
                else "train"
            )
            if paras:
                docs[split].append("\n".join(paras))
        for split, texts in docs.items():  # one document per block, blank-line separated
            (out / f"{name}.{split}.txt").write_text("\n\n\n".join(texts) + "\n")


if __name__ == "__main__":
    main()
