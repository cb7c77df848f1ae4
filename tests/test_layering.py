"""The layout rules of docs/architecture.md, checked: line budgets and import directions."""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
CORE = ROOT / "dsa_core"
MATH_FILES = ["dense.py", "indexer.py", "topk.py", "sparse.py", "chunked.py", "dsa.py"]


def _imports(path):
    tree = ast.parse(path.read_text())
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append(("." * node.level) + (node.module or ""))
    return names


def test_every_library_file_is_a_short_read():
    # Line counts after `ruff format`: every file of dsa_core/ (the reference ladder and the concern
    # folders) stays <= 200 lines, one concept a file.
    sizes = {p: len(p.read_text().splitlines()) for p in CORE.rglob("*.py")}
    too_long = {str(p.relative_to(ROOT)): n for p, n in sizes.items() if n > 200}
    assert not too_long, f"files over their line budget: {too_long}"


def test_dsa_core_never_imports_streamlit_or_lessons():
    bad = [
        str(p)
        for p in CORE.rglob("*.py")
        if any(m.split(".")[0] in ("streamlit", "lessons") for m in _imports(p))
    ]
    assert not bad, f"dsa_core must not import streamlit/lessons: {bad}"


def test_math_files_never_import_fp8():
    bad = [
        f for f in MATH_FILES if (CORE / f).exists() and any(m.endswith("fp8") for m in _imports(CORE / f))
    ]
    assert not bad, f"math files must not import fp8: {bad}"


def test_lessons_do_no_tensor_math():
    pages = list((ROOT / "lessons").glob("*.py")) + [ROOT / "app.py"]
    forbidden = ("torch.", "F.softmax", ".softmax(", "einsum", ".topk(", "torch.nn.functional")
    bad = {str(p.name): [f for f in forbidden if f in p.read_text()] for p in pages}
    bad = {k: v for k, v in bad.items() if v}
    assert not bad, f"tensor math belongs in dsa_core, not in pages: {bad}"


def test_test_module_basenames_are_unique():
    # pytest's default import mode needs unique basenames across test folders without __init__.py
    names = [p.name for p in (ROOT / "tests").rglob("test_*.py")]
    dupes = sorted({n for n in names if names.count(n) > 1})
    assert not dupes, f"rename these test files so their names are unique: {dupes}"


def test_figures_take_arrays_and_never_import_torch():
    bad = [
        p.name for p in (CORE / "viz").glob("*.py") if any(m.split(".")[0] == "torch" for m in _imports(p))
    ]
    assert not bad, f"dsa_core/viz draws from arrays only; these import torch: {bad}"


def test_the_library_never_imports_the_course():
    bad = [str(p) for p in CORE.rglob("*.py") if any(m.split(".")[0] == "course" for m in _imports(p))]
    assert not bad, f"course/ (notebook checkers) sits beside dsa_core, which must not import it: {bad}"


def test_the_reference_files_never_import_the_concern_folders():
    # The ladder at the top of dsa_core/ reads on its own; only the CPU twins of fast/cpu.py are allowed.
    folders = ("host", "train", "cost", "analysis", "viz")
    bad = {
        p.name: m
        for p in CORE.glob("*.py")
        if p.name not in ("__init__.py", "evaluate.py")
        for m in _imports(p)
        if m.split(".")[:2][-1] in folders or (m.startswith("dsa_core.fast") and m != "dsa_core.fast.cpu")
    }
    assert not bad, f"reference files import a concern folder: {bad}"
