"""The layout rules of docs/architecture.md, checked: line budgets and import directions."""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
CORE = ROOT / "dsa_core"
MATH_FILES = ["dense.py", "indexer.py", "topk.py", "pipeline.py", "sparse.py", "dsa.py"]


def _imports(path):
    tree = ast.parse(path.read_text())
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append(("." * node.level) + (node.module or ""))
    return names


LADDER = ["config.py", "rope.py", "dense.py", "indexer.py", "topk.py", "pipeline.py", "sparse.py", "dsa.py"]
LADDER += ["metrics.py"]


def test_the_reading_ladder_stays_short():
    # One concept a file, no line budget per file; the ladder a learner reads first stays <= 800 lines.
    total = sum(len((CORE / f).read_text().splitlines()) for f in LADDER)
    assert total <= 800, f"the reading ladder is {total} lines (budget 800)"


def test_sparse_attention_body_is_the_equation():
    # gather, logits, mask, softmax, weighted sum: <= 12 code lines, no loop, no helper of its own
    tree = ast.parse((CORE / "sparse.py").read_text())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "sparse_attention")
    body = fn.body[1:] if isinstance(fn.body[0].value, ast.Constant) else fn.body  # skip the docstring
    lines = {n.lineno for stmt in body for n in ast.walk(stmt) if hasattr(n, "lineno")}
    assert len(lines) <= 12, f"sparse_attention's body is {len(lines)} code lines"
    assert not any(isinstance(n, (ast.For, ast.While)) for n in ast.walk(fn)), "sparse_attention loops"


def test_one_place_walks_query_blocks():
    # Block loops over queries (`for s0 in range(0, S, rows)`) live in pipeline.row_blocks only; every
    # other file iterates row_blocks (the fast twins in fast/ keep their own kernels' tiling).
    bad = []
    for p in CORE.rglob("*.py"):
        if p.name == "pipeline.py" or "fast" in p.parts:
            continue
        for node in ast.walk(ast.parse(p.read_text())):
            it = node.iter if isinstance(node, (ast.For, ast.comprehension)) else None
            if isinstance(it, ast.Call) and getattr(it.func, "id", "") == "range" and len(it.args) == 3:
                bad.append(f"{p.relative_to(ROOT)}:{node.lineno if hasattr(node, 'lineno') else '?'}")
    assert not bad, f"a second query-block loop: use pipeline.row_blocks / select_keys instead: {bad}"


def test_indexer_to_topk_is_composed_only_by_the_pipeline():
    # A function that both scores keys and picks from the scores is a second selection pipeline.
    # Allowed: pipeline.py itself, dsa.py's toy composition (the whole map at once, for inspection) and
    # the Learn page's FP8 comparison, which ranks two whole maps of one short text side by side.
    scores = {"index_scores", "index_scores_fast", "compressed_scores", "fp8_index_scores"}
    picks = {"select_topk", "select_topk_fast", "token_topk", "block_topn"}
    bad = []
    for p in CORE.rglob("*.py"):
        if p.name in ("pipeline.py", "dsa.py"):
            continue
        for fn in ast.walk(ast.parse(p.read_text())):
            if isinstance(fn, ast.FunctionDef) and fn.name != "fp8_agreement":
                called = {
                    getattr(n.func, "id", getattr(n.func, "attr", ""))
                    for n in ast.walk(fn)
                    if isinstance(n, ast.Call)
                }
                if called & scores and called & picks:
                    bad.append(f"{p.relative_to(ROOT)}:{fn.name}")
    assert not bad, f"indexer -> top-k composed outside pipeline.select_keys: {bad}"


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
    # The ladder at the top of dsa_core/ reads on its own: no concern folder, no fast twin.
    folders = ("host", "train", "cost", "analysis", "viz", "fast", "family")
    bad = {
        p.name: m
        for p in CORE.glob("*.py")
        if p.name not in ("__init__.py", "evaluate.py")
        for m in _imports(p)
        if m.split(".")[:2][-1] in folders
    }
    assert not bad, f"reference files import a concern folder: {bad}"
