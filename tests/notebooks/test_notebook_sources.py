"""The committed notebooks are exactly what scripts/make_notebooks.py builds from notebooks/src/:
outputs cleared, kernelspec python3, no installs or path hacks, 2 to 4 self-checked exercises."""

import importlib.util
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("make_notebooks", ROOT / "scripts" / "make_notebooks.py")
make_notebooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_notebooks)


def test_committed_notebooks_match_their_sources():
    assert make_notebooks.main(["--check"]) == 0, "run: python scripts/make_notebooks.py"


def test_every_notebook_has_a_solution_and_no_outputs():
    students = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    solutions = sorted(p.name for p in (ROOT / "notebooks" / "solutions").glob("[0-9][0-9]_*.ipynb"))
    assert students and students == solutions
    for path in (ROOT / "notebooks").rglob("[0-9][0-9]_*.ipynb"):
        nb = json.loads(path.read_text())
        assert nb["metadata"]["kernelspec"]["name"] == "python3", path
        for cell in nb["cells"]:
            assert not cell.get("outputs") and not cell.get("execution_count"), f"{path}: outputs not cleared"


def _code(path):
    cells = json.loads(path.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def test_student_copies_hold_placeholders_and_solutions_assert():
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        code, sol = _code(path), _code(path.parent / "solutions" / path.name)
        assert "= None" in code and "assert feedback" not in code, path.name
        assert sol.count("assert feedback, feedback") == code.count(".check_"), path.name


def _assigned(tree):
    """Names a code cell binds at top level: assignments, for-loop and with targets, defs, imports."""
    import ast

    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def test_check_cells_can_be_rerun_after_run_all():
    """No cell after an exercise's check rebinds a name that check reads (other than the answer
    itself): after "Run all", re-running a check cell must see the exercise's own inputs."""
    import ast

    for path in sorted((ROOT / "notebooks" / "src").glob("[0-9][0-9]_*.py")):
        cells = make_notebooks.parse(path)
        for i, (kind, text) in enumerate(cells):
            if kind != "check":
                continue
            call = ast.parse(text).body[-1].value
            read = {n.id for n in ast.walk(call) if isinstance(n, ast.Name)}
            read -= {"ex"} | {n for n in read if n.startswith(("answer_", "my_"))}
            for kind_after, later in cells[i + 1 :]:
                if kind_after in ("code", "answer", "solution"):
                    clash = read & _assigned(ast.parse(later))
                    assert not clash, f"{path.name}: a later cell rebinds {sorted(clash)}, read by {text!r}"


def test_docs_count_the_notebooks_and_exercises():
    """docs/notebooks.md and docs/teaching.md name as many notebooks and exercises as there are."""
    words = "zero one two three four five six seven eight nine ten eleven twelve".split()
    sources = sorted((ROOT / "notebooks" / "src").glob("[0-9][0-9]_*.py"))
    exercises = sum(kind == "check" for path in sources for kind, _ in make_notebooks.parse(path))
    notebooks_md = (ROOT / "docs" / "notebooks.md").read_text(encoding="utf-8")
    teaching_md = (ROOT / "docs" / "teaching.md").read_text(encoding="utf-8")
    n = words[len(sources)]
    assert f"{n.capitalize()} notebooks in `notebooks/`" in notebooks_md
    assert f"({exercises} in all)" in notebooks_md
    assert (
        f"## The {n} notebooks" in teaching_md
        and f"{n.capitalize()} notebooks, {exercises} exercises" in teaching_md
    )
    for path in sources:  # every notebook has a row in the guide's table
        assert f"| {path.stem[:2]} " in teaching_md, path.name
