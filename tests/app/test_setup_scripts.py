"""scripts/app.sh after the README's test command (scripts/setup.sh dev, stamp .venv/.setup-dev) starts
the app without running pip again: an offline classroom machine set up once for development can run it.
Hermetic: the scripts run in a copy of the repository's set-up files, with python and streamlit replaced
by stubs that only log how they were called."""

import os
import pathlib
import shutil
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
STUB = '#!/usr/bin/env bash\necho "$(basename "$0") $*" >> "$CALLS"\n'


def _repo(tmp_path):
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    for name in (
        "scripts/setup.sh",
        "scripts/app.sh",
        "requirements.txt",
        "requirements-dev.txt",
        "pyproject.toml",
    ):
        shutil.copy(ROOT / name, repo / name)
    fake = tmp_path / "fakebin"
    fake.mkdir()
    for tool in ("python", "streamlit"):
        (fake / tool).write_text(STUB)
        (fake / tool).chmod(0o755)
    (repo / ".venv" / "bin").mkdir(parents=True)
    (repo / ".venv" / "bin" / "python").write_text(STUB)
    (repo / ".venv" / "bin" / "python").chmod(0o755)
    (repo / ".venv" / "bin" / "activate").write_text(f'export PATH="{fake}:$PATH"\n')
    return repo


def _want(repo):
    """The stamp's content, computed as scripts/setup.sh computes it."""
    cmd = "cat requirements.txt requirements-dev.txt pyproject.toml | sha256sum | cut -c1-16"
    return subprocess.run(["bash", "-c", cmd], cwd=repo, capture_output=True, text=True, check=True).stdout


def _run(repo, tmp_path, *args):
    calls = tmp_path / "calls.log"
    calls.write_text("")
    env = {k: v for k, v in os.environ.items() if k != "DSA_NO_SETUP"} | {"CALLS": str(calls)}
    out = subprocess.run(["bash", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return calls.read_text().splitlines()


def test_app_sh_after_a_dev_set_up_runs_no_pip(tmp_path):
    repo = _repo(tmp_path)
    (repo / ".venv" / ".setup-dev").write_text(_want(repo))
    calls = _run(repo, tmp_path, "scripts/app.sh", "--port", "8599")
    assert not [c for c in calls if "pip" in c], calls
    assert calls[-1].startswith("streamlit run app.py") and "--server.port=8599" in calls[-1]


def test_app_sh_on_a_fresh_or_stale_venv_installs_the_app(tmp_path):
    """The check above can fail: without a matching stamp the app's set-up runs pip."""
    repo = _repo(tmp_path)
    calls = _run(repo, tmp_path, "scripts/app.sh")
    assert any("pip install -q -r requirements.txt" in c for c in calls), calls
    assert not any("requirements-dev.txt" in c for c in calls)  # the app's set-up only
    assert (repo / ".venv" / ".setup-app").read_text() == _want(repo)
    (repo / ".venv" / ".setup-app").unlink()
    (repo / ".venv" / ".setup-dev").write_text("0123456789abcdef\n")  # a dev set-up of older pins
    assert any("pip install" in c for c in _run(repo, tmp_path, "scripts/setup.sh", "app"))
