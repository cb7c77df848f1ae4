"""The readability rules of docs/architecture.md that a machine can check on the core files."""

import ast
import pathlib

CORE = pathlib.Path(__file__).resolve().parents[2] / "dsa_core"
FILES = ["config", "rope", "dense", "indexer", "topk", "sparse", "pipeline", "dsa", "metrics", "fp8", "toy"]


def test_core_modules_have_a_docstring_naming_their_source():
    for name in FILES:
        doc = ast.get_docstring(ast.parse((CORE / f"{name}.py").read_text()))
        assert doc and len(doc.splitlines()) >= 3, name
        if name not in ("toy", "metrics"):
            assert "Official" in doc or "official" in doc, name


def test_every_public_function_has_a_docstring_and_no_print():
    for name in FILES:
        tree = ast.parse((CORE / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                assert ast.get_docstring(node), f"{name}.{node.name}"
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                raise AssertionError(f"print in dsa_core/{name}.py")
