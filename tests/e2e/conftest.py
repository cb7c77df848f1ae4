"""Real-browser tests: the suite starts `streamlit run app.py` itself and drives Debian's chromium with
Playwright (never a downloaded browser). They fail, not skip, when /usr/bin/chromium is missing:
scripts/setup.sh dev installs it. Screenshots are kept under test-results/ as artefacts."""

import os
import pathlib
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = ROOT / "test-results" / "e2e"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_url():
    """Start the app once for the whole e2e session; stop it (by its own pid) at the end."""
    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: run `bash scripts/setup.sh dev` (apt chromium)"
    port = _free_port()
    (ROOT / "test-results").mkdir(exist_ok=True)
    name = f"e2e-streamlit-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.log"  # one server per test worker
    log = open(ROOT / "test-results" / name, "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless=true",
            f"--server.port={port}",
            "--server.address=127.0.0.1",
            "--server.fileWatcherType=none",
            "--browser.gatherUsageStats=false",
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"streamlit did not start; see test-results/{name}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 720}, "accept_downloads": True}


@pytest.fixture
def shot():
    SHOTS.mkdir(parents=True, exist_ok=True)
    return lambda page, name: page.screenshot(path=str(SHOTS / f"{name}.png"))


@pytest.fixture(scope="session", autouse=True)
def delete_output_dir():
    """pytest-playwright would delete test-results/ at session start, after our server log was opened
    there; keep it (our screenshots are overwritten run by run)."""
