"""Pointers that a reader follows must lead somewhere: every repository path named in the docs, the
README and dsa_core's docstrings exists, and no shipped file carries a path of the machine it ran on."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
TOP = "dsa_core|lessons|tests|docs|notebooks|benchmarks|scripts|assets|course|\\.ci|\\.streamlit"
PATH = re.compile(rf"(?<![\w/.-])((?:{TOP})/[\w./-]*\w)")
SOURCES = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "dsa_core").rglob("*.py")]
SOURCES += [
    *(ROOT / "lessons").glob("*.py"),
    *(ROOT / "benchmarks").glob("*.py"),
    *(ROOT / "scripts").glob("*"),
]


EXTENSIONS = {
    "py",
    "md",
    "json",
    "ipynb",
    "txt",
    "sh",
    "safetensors",
    "toml",
    "svg",
    "png",
    "csv",
    "log",
    "yml",
}
EXTERNAL = ("FlashMLA", "DeepGEMM", "vllm", "vLLM", "sglang", "llama.cpp", "transformers", "DeepSeek-V3")


def _named_paths(text):
    for m in PATH.finditer(text):
        path = m.group(1).rstrip(".").split("::")[0]
        after, before = text[m.end(1) : m.end(1) + 1], text[max(0, m.start(1) - 40) : m.start(1)]
        last = path.rsplit("/", 1)[-1]
        if "." in last and last.rsplit(".", 1)[-1] not in EXTENSIONS:
            continue  # a dotted name (lessons/state.analyse), not a file
        if after in "*{<" and after or "NN" in path or any(repo in before for repo in EXTERNAL):
            continue  # a pattern, a placeholder, or a path in another project's repository
        yield path


def test_every_repository_path_named_in_docs_and_docstrings_exists():
    missing = sorted(
        {
            f"{src.relative_to(ROOT)}: {path}"
            for src in SOURCES
            if src.is_file()
            for path in _named_paths(src.read_text(errors="replace"))
            if not (ROOT / path).exists()
        }
    )
    assert not missing, "stale pointers:\n" + "\n".join(missing)


def test_no_machine_paths_in_shipped_files():
    machine = re.compile(r"(/tmp/dsa|/work/main|/root/|/home/\w+/)")
    shipped = [
        p for d in ("assets", "docs", "dsa_core", "lessons", "notebooks") for p in (ROOT / d).rglob("*")
    ]
    bad = [
        str(p.relative_to(ROOT))
        for p in shipped + [ROOT / "README.md"]
        if p.is_file()
        and p.suffix in (".json", ".md", ".py", ".log", ".txt", ".ipynb")
        and p.stat().st_size < 5_000_000
        and machine.search(p.read_text(errors="replace"))
    ]
    assert not bad, f"machine paths in shipped files: {bad}"
