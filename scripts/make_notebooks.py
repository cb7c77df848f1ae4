"""Build the classroom notebooks from their reviewable sources.

    python scripts/make_notebooks.py            # write notebooks/NN_*.ipynb and notebooks/solutions/
    python scripts/make_notebooks.py --check    # exit 1 if a committed .ipynb differs from its source

Sources are `notebooks/src/NN_name.py` in the "percent" format (no jupytext needed). A cell starts
with a line `# %%`, optionally followed by a kind:

    # %% [markdown]   markdown; each line's leading "# " (or a lone "#") is removed
    # %%              code, in both copies
    # %% [answer]     code, student copy only: the placeholder (`answer = None`)
    # %% [solution]   code, instructor copy only: the worked answer, in place of [answer]
    # %% [check]      code, `ex.check_...(answer)`; the instructor copy asserts that it passes
    # %% [student]    markdown, student copy only; [instructor] markdown, instructor copy only

Every notebook is written with its outputs cleared, kernelspec `python3` and stable cell ids, so that
regenerating gives byte-identical files and diffs stay reviewable.
"""

import argparse
import pathlib
import re
import sys

import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[1]
SRC = ROOT / "notebooks" / "src"
OUT = ROOT / "notebooks"
SOLUTIONS = OUT / "solutions"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
FORBIDDEN = ("pip install", "sys.path", "!pip", "%pip", "conda install")
HEADER = re.compile(r"^# %%(?:\s*\[(\w+)\])?\s*$")


def parse(path):
    """A source file -> list of (kind, text) cells."""
    cells, kind, lines = [], None, []
    for line in path.read_text(encoding="utf-8").splitlines():
        m = HEADER.match(line)
        if m:
            if kind is not None:
                cells.append((kind, lines))
            kind, lines = (m.group(1) or "code"), []
        elif kind is not None:
            lines.append(line)
    if kind is not None:
        cells.append((kind, lines))
    out = []
    for kind, lines in cells:
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        if kind in ("markdown", "student", "instructor"):
            lines = [re.sub(r"^# ?", "", ln) if ln.startswith("#") else ln for ln in lines]
        out.append((kind, "\n".join(lines)))
    return out


def check_wrap(code):
    """Instructor copy of a check cell: keep the verdict and assert it."""
    lines = code.splitlines()
    *head, last = lines
    return "\n".join(head + [f"feedback = {last}", "assert feedback, feedback", "feedback"])


def build(path, solution):
    """Build the student (solution=False) or instructor (solution=True) notebook of one source."""
    stem = path.stem
    cells = []
    for kind, text in parse(path):
        if kind == "markdown" or (kind == "student" and not solution) or (kind == "instructor" and solution):
            cells.append(nbformat.v4.new_markdown_cell(text))
        elif kind == "code" or (kind == "answer" and not solution) or (kind == "solution" and solution):
            cells.append(nbformat.v4.new_code_cell(text))
        elif kind == "check":
            cells.append(nbformat.v4.new_code_cell(check_wrap(text) if solution else text))
        elif kind not in ("answer", "solution", "student", "instructor"):
            raise ValueError(f"{path.name}: unknown cell kind [{kind}]")
    for i, cell in enumerate(cells):
        cell.id = f"{stem[:2]}-{'s' if solution else 'n'}{i:03d}"
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {
        "kernelspec": KERNELSPEC,
        "language_info": {"name": "python", "pygments_lexer": "ipython3"},
    }
    nbformat.validate(nb)
    lint(path, nb)
    return nb


def lint(path, nb):
    """The notebook rules a script can check (docs/notebooks.md): no installs, no sys.path edits."""
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    bad = [f for f in FORBIDDEN for src in code if f in src]
    if bad:
        raise ValueError(f"{path.name}: no installs or path hacks in notebooks: {sorted(set(bad))}")
    if not code or "import dsa_core" not in code[0]:
        raise ValueError(f"{path.name}: the first code cell must import dsa_core")
    checks = sum(".check_" in src for src in code)
    if not 2 <= checks <= 4:
        raise ValueError(f"{path.name}: {checks} exercise checks; each notebook has 2 to 4")


def render(nb):
    return nbformat.writes(nb) + "\n"


def targets():
    for path in sorted(SRC.glob("[0-9][0-9]_*.py")):
        name = path.stem + ".ipynb"
        yield path, OUT / name, build(path, solution=False)
        yield path, SOLUTIONS / name, build(path, solution=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a notebook is out of date")
    args = parser.parse_args(argv)
    stale = []
    for _src, dest, nb in targets():
        text = render(nb)
        if args.check:
            if not dest.exists() or dest.read_text(encoding="utf-8") != text:
                stale.append(str(dest.relative_to(ROOT)))
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(text, encoding="utf-8")
            print(f"wrote {dest.relative_to(ROOT)}")
    if stale:
        print("out of date (run python scripts/make_notebooks.py):\n  " + "\n  ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
