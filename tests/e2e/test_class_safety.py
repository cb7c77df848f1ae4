"""One server for a class, in a real browser: `scripts/app.sh --class` listens only where asked, makes no
outside call (Streamlit's checkip look-up included) and offers no model box; a lone surrogate typed in the
text box is repaired with a note instead of freezing the session."""

import os
import re
import socket
import subprocess
import time
import urllib.request

import psutil
import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WAIT = 120_000
# Loaded into the server process (PYTHONPATH): writes down every name look-up and connection that is not
# to this machine. Streamlit's public-IP check (checkip.amazonaws.com) would show up here, even offline.
NET_SPY = """
import os, socket
_LOG, _LOCAL = os.environ["DSA_NET_LOG"], ("127.", "::1", "localhost", "0.0.0.0", "::")
def _note(what):
    with open(_LOG, "a") as f:
        f.write(what + "\\n")
_getaddrinfo, _connect = socket.getaddrinfo, socket.socket.connect
def getaddrinfo(host, *a, **k):
    if host and not str(host).startswith(_LOCAL):
        _note(f"look-up {host}")
    return _getaddrinfo(host, *a, **k)
def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not str(address[0]).startswith(_LOCAL):
        _note(f"connect {address}")
    return _connect(self, address)
socket.getaddrinfo, socket.socket.connect = getaddrinfo, connect
"""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(tmp_path, args):
    """Start `bash scripts/app.sh ARGS` with the network spy; (process, url, log path, spy log path)."""
    (tmp_path / "spy").mkdir(exist_ok=True)
    (tmp_path / "spy" / "sitecustomize.py").write_text(NET_SPY)
    spy_log, log = tmp_path / "net.log", tmp_path / "server.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path / "spy"),
        "DSA_NET_LOG": str(spy_log),
        "DSA_NO_SETUP": "1",
    }
    for name in ("STREAMLIT_SERVER_HEADLESS", "STREAMLIT_BROWSER_GATHER_USAGE_STATS"):
        env.pop(name, None)  # the settings must come from our config and script, not the test's shell
    port = _free_port()
    proc = subprocess.Popen(
        ["bash", "scripts/app.sh", *args, "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=open(log, "w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=1).read() == b"ok":
                return proc, url, log, spy_log
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError(f"the app did not start: {log.read_text()}")


def _stop(proc):
    proc.terminate()  # our own process (bash exec'd into streamlit): by its pid
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _listening(proc):
    return {c.laddr.ip for c in psutil.Process(proc.pid).net_connections("tcp") if c.status == "LISTEN"}


@pytest.mark.parametrize("mode", ["single user", "class", "class with a model folder"])
def test_the_server_listens_where_asked_and_calls_nothing_outside(page: Page, tmp_path, shot, mode):
    args = ["--class", "--bind", "127.0.0.1"] if mode.startswith("class") else []
    if mode == "class with a model folder":
        (tmp_path / "models").mkdir()
        args += ["--models", str(tmp_path / "models")]
    proc, url, log, spy_log = _serve(tmp_path, args)
    try:
        page.goto(url)
        expect(page.get_by_text(re.compile(r"^Query \d+ "))).to_be_visible(timeout=WAIT)
        sidebar = page.get_by_test_id("stSidebar")
        if mode == "class":
            expect(sidebar.get_by_text("Model", exact=True)).to_have_count(0)
            shot(page, "class-mode")
        else:
            sidebar.get_by_text("Model", exact=True).click()
            label = (
                "Local model folder" if mode == "single user" else "A model from this server's model folder"
            )
            box = sidebar.get_by_role("textbox", name=re.compile(label))
            expect(box).to_be_visible()
            if mode != "single user":  # a path outside the teacher's folder is refused, naming no path
                box.fill("../../etc")
                box.press("Enter")
                expect(sidebar.get_by_text("is not a model in this server's model folder")).to_be_visible(
                    timeout=WAIT
                )
                assert str(tmp_path) not in sidebar.inner_text()
        listening = _listening(proc)
        assert listening and listening <= {"127.0.0.1", "::1"}, listening  # never 0.0.0.0 / ::
        text = log.read_text()
        assert "External URL" not in text and "Network URL" not in text, text
        if mode.startswith("class"):
            assert "Class mode: listening on 127.0.0.1" in text
    finally:
        _stop(proc)
    calls = spy_log.read_text() if spy_log.exists() else ""
    assert calls == "", f"the server reached outside this machine:\n{calls}"


def test_a_lone_surrogate_is_repaired_and_the_session_keeps_working(page: Page, app_url, shot):
    page.goto(app_url)
    expect(page.get_by_text(re.compile(r"^Query \d+ "))).to_be_visible(timeout=WAIT)
    box = page.get_by_role("textbox", name="Text to analyse")
    box.fill("placeholder")
    # JavaScript can hold half of a surrogate pair (Playwright cannot send one: build it in the page)
    box.evaluate(
        """el => {
            const text = 'Half an emoji ' + String.fromCharCode(0xD83D) + ' then the cat sat on the mat '
                + 'and the dog sat on the log, and then they both went to sleep in the sun.';
            Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value').set.call(el, text);
            el.dispatchEvent(new Event('input', {bubbles: true}));
        }"""
    )
    box.press("Control+Enter")
    expect(page.get_by_text(re.compile("invalid Unicode .* was repaired"))).to_be_visible(timeout=WAIT)
    expect(page.get_by_text(re.compile(r"^Query \d+ "))).to_be_visible()
    shot(page, "lone-surrogate-repaired")
    k = page.get_by_role("spinbutton", name=re.compile("tokens kept per query"))  # later actions still work
    k.fill("4")
    k.press("Enter")
    expect(page.get_by_text(re.compile(r"the indexer kept 4 of them"))).to_be_visible(timeout=WAIT)
    page.get_by_role("link", name="Cost").click()
    expect(page.get_by_role("heading", name=re.compile("Cost"))).to_be_visible(timeout=WAIT)
