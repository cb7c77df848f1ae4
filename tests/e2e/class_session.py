"""A scripted class session against a real app server: three browser contexts (three students) at once
paste their own texts, drag k across six values, switch layers, run the whole-model comparison and
close their tabs, while the server's resident memory is sampled every 0.2 s.

Used by tests/e2e/test_class_load.py (short, at the length CI can afford) and by
`python benchmarks/app_bench.py --class-session 8192` (the same script at 8,192 tokens). The server
starter, the memory Sampler, the controls and the per-browser settle times (settle) are shared with
benchmarks/class_bench.py. Debian's chromium only (never a downloaded browser).
"""

import os
import pathlib
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
]
GB = 2**30
CEILING = 4 * GB  # the server-wide resident memory ceiling (docs/app.md)
TOKEN_LIMITS = [64, 128, 256, 512, 1024, 2048, 4096, 8192]
TEXT = (ROOT / "assets" / "texts" / "contract.txt").read_text()


def rss(pid):
    """Resident bytes of a process now (0 once it is gone)."""
    try:
        return int(open(f"/proc/{pid}/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


class Sampler:
    """Samples a process's resident size in a thread: .peak since start or the last reset()."""

    def __init__(self, pid, period=0.2):
        self.pid, self.period, self.peak, self.stop = pid, period, 0, threading.Event()
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while not self.stop.wait(self.period):
            self.peak = max(self.peak, rss(self.pid))

    def reset(self):
        self.peak = rss(self.pid)


def start_server(log_path, env=None):
    """`streamlit run app.py` on a free local port -> (Popen, url). Stop it with stop_server."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.headless=true",
        f"--server.port={port}",
    ]
    cmd += ["--server.address=127.0.0.1", "--server.fileWatcherType=none", "--browser.gatherUsageStats=false"]
    log = open(log_path, "w")
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=1).read() == b"ok":
                return proc, url
        except OSError:
            time.sleep(0.1)
    stop_server(proc)
    raise RuntimeError(f"streamlit did not start; see {log_path}")


def stop_server(proc):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


RUNNING = '[data-testid="stApp"][data-test-script-state="running"]'  # Streamlit's root while a script runs

# Added to every page of a context (new_context(...).add_init_script): the browser's own clock (ms since
# the epoch, the same clock as time.time() on this machine) of the last moment its script run ended
# (__dsaIdle) and of the first moment after it when the page had drawn it (__dsaDrawn: two animation
# frames later, once the main thread is free of Plotly's drawing), so each browser's settle time is
# its own, however long the driver takes to look at the other tabs.
IDLE_WATCH = """(() => {
  window.__dsaIdle = 0;
  window.__dsaDrawn = 0;
  window.__dsaBusy = 0;  // ms of long tasks (> 50 ms) on the page's main thread: parsing, React, Plotly
  try {
    new PerformanceObserver(l => { for (const e of l.getEntries()) window.__dsaBusy += e.duration; })
      .observe({type: "longtask", buffered: true});
  } catch (e) {}
  const drawn = at => requestAnimationFrame(() => requestAnimationFrame(() => {
    if (window.__dsaIdle === at) window.__dsaDrawn = Date.now();
  }));
  const seen = records => {
    for (const r of records) {
      const el = r.target;
      if (el.getAttribute && el.getAttribute("data-testid") === "stApp") {
        if (el.getAttribute("data-test-script-state") === "running") window.__dsaDrawn = 0;
        else { window.__dsaIdle = Date.now(); drawn(window.__dsaIdle); }
      }
    }
  };
  new MutationObserver(seen).observe(document, {
    attributes: true, subtree: true, attributeFilter: ["data-test-script-state"],
  });
})();"""


def wait_idle(page, timeout_s, start_s=3.0):
    """Until the script run is over; raises on a freeze or an error. Streamlit marks its root element
    with data-test-script-state="running" while the script runs (the status widget is not drawn with
    toolbarMode = "minimal", so it cannot be waited for)."""
    from playwright.sync_api import expect

    running = page.locator(RUNNING)
    try:  # a loaded server may start the run late: see it start (or give up after start_s: a quick run)
        running.wait_for(state="attached", timeout=start_s * 1000)
    except Exception:  # noqa: BLE001 - playwright's TimeoutError: the run was over before we looked
        pass
    expect(running).to_have_count(0, timeout=timeout_s * 1000)
    expect(page.get_by_test_id("stException")).to_have_count(0)


def _all(pages, action, timeout_s, log, name):
    """Do action(page) in every tab (the server works on them at once), then wait for every tab."""
    t = time.perf_counter()
    for p in pages:
        action(p)
    saw_queue = False
    for i, p in enumerate(pages):
        note = p.get_by_text(re.compile("Waiting for \\d+ other student")).filter(visible=True)
        saw_queue |= note.count() > 0
        wait_idle(p, timeout_s, start_s=1.5 if i == 0 else 0.3)  # the later tabs' runs have begun by then
    log.append({"step": name, "seconds": round(time.perf_counter() - t, 2), "saw_queue_note": saw_queue})


def settle(pages, action, timeout_s, with_busy=False):
    """Do action(page) in every tab, wait until every tab is idle and has drawn; -> each tab's settle
    time in seconds, from the moment its action was done (the last key press or click sent) to the
    moment it had drawn the end of its last script run, by the browser's clock (0 when the page
    settled before the action call returned; None where no run followed the action). with_busy: each
    item is (settle time, seconds of long tasks on the page's main thread meanwhile: its parsing,
    React and Plotly work, answer time: to the moment the browser saw its last script run end, i.e.
    the server's part without the drawing). The pages' contexts need IDLE_WATCH."""
    before, after, busy = [], [], [p.evaluate("window.__dsaBusy || 0") for p in pages]
    for p in pages:
        before.append(time.time())
        action(p)
        after.append(time.time())
    for i, p in enumerate(pages):
        wait_idle(p, timeout_s, start_s=1.5 if i == 0 else 0.3)
    out = []
    for t0, t1, p, b in zip(before, after, pages, busy):
        try:
            p.wait_for_function("window.__dsaDrawn > 0", timeout=30_000)
        except Exception:  # noqa: BLE001 - not drawn within 30 s: fall back to the end of the run
            pass
        idle, drawn, now_busy = p.evaluate(
            "[window.__dsaIdle || 0, window.__dsaDrawn || 0, window.__dsaBusy]"
        )
        end = (drawn or idle) / 1000
        settle_s = None if end <= t0 else round(max(0.0, end - t1), 3)
        answer_s = None if idle / 1000 <= t0 else round(max(0.0, idle / 1000 - t1), 3)
        out.append((settle_s, round((now_busy - b) / 1000, 3), answer_s) if with_busy else settle_s)
    return out


def _select(label, option):
    """Pick `option` in the sidebar's select box named `label` (Streamlit's select is a combobox)."""

    def act(page):
        box = page.get_by_role("combobox", name=re.compile(label))
        box.click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=5_000)
        except Exception:  # noqa: BLE001 - the list did not open (or scrolled it away): type to filter
            box.click()
            page.keyboard.type(option)
            page.keyboard.press("Enter")

    return act


def _query(key):
    """Move the query slider one step (key: ArrowLeft, ArrowRight, Home, End)."""

    def act(page):
        slider = page.get_by_role("slider", name=re.compile("^Query token"))
        slider.focus()
        slider.press(key)

    return act


def _set_k(value):
    def act(page):
        box = page.get_by_role("spinbutton", name=re.compile("tokens kept per query"))
        box.fill(str(value))
        box.press("Enter")

    return act


def _paste(text):
    def act(page):
        box = page.get_by_role("textbox", name="Text to analyse")
        box.fill(text)
        box.press("Control+Enter")

    return act


def _token_limit(n):
    def act(page):
        slider = page.get_by_role("slider", name=re.compile("Token limit"))
        slider.focus()
        slider.press("Home")
        for _ in range(TOKEN_LIMITS.index(n)):
            slider.press("ArrowRight")

    return act


def _layer(key):
    def act(page):
        slider = page.get_by_role("slider", name=re.compile("^Layer"))
        slider.focus()
        slider.press(key)

    return act


def _run_twice(page):
    page.get_by_role("button", name=re.compile("Run the model twice")).click(timeout=120_000)


def class_session(
    url, pid, browser, tokens=512, ks=None, timeout_s=600, settle_s=30, release_to=0.25 * GB, log_path=None
):
    """Run the class session in `browser` (a Playwright Browser); -> report dict (per-step seconds,
    peak and final resident bytes of the server process `pid`). ks: the k values the tabs go through
    (default: six, from 8 to `tokens`). After the tabs close, the resident size is read once it is at
    most `release_to` bytes above the one-page baseline and, when the server's `log_path` is given, the
    janitor has logged a drop of cached results since the tabs closed; or after `settle_s` seconds."""
    from playwright.sync_api import expect

    ks = ks or [8, 32, 128, max(1, tokens // 4), max(1, tokens // 2), tokens]
    sampler, log = Sampler(pid), []
    report = {"tokens": tokens, "ks": ks, "ceiling_bytes": CEILING, "steps": log}
    warm = browser.new_context(viewport={"width": 1280, "height": 900})
    page = warm.new_page()
    page.goto(url)
    expect(page.get_by_text(re.compile(r"^Query \d+ "))).to_be_visible(timeout=timeout_s * 1000)
    warm.close()
    report["rss_after_first_page"] = rss(pid)
    sampler.reset()
    contexts = [browser.new_context(viewport={"width": 1280, "height": 900}) for _ in range(3)]
    pages = [c.new_page() for c in contexts]
    _all(pages, lambda p: p.goto(url), timeout_s, log, "open the page")
    texts = iter(f"Student {name}: " + TEXT * (1 + tokens // 2000) for name in "ABC")
    _all(pages, lambda p: _paste(next(texts))(p), timeout_s, log, "paste a text")
    if tokens != 512:
        _all(pages, _token_limit(tokens), timeout_s, log, f"token limit {tokens}")
    for k in ks:
        _all(pages, _set_k(k), timeout_s, log, f"k = {k}")
    _all(pages, _layer("ArrowRight"), timeout_s, log, "layer 11")
    _all(pages, _layer("Home"), timeout_s, log, "layer 0")
    _all(pages, _set_k(64), timeout_s, log, "k = 64")
    _all(pages, _run_twice, timeout_s, log, "run the model twice")
    for p in pages:
        expect(p.get_by_text("Mean KL over the text")).to_be_visible(timeout=timeout_s * 1000)
    report["peak_rss_bytes"] = sampler.peak
    report["rss_before_close"] = rss(pid)

    def drops():  # the janitor's lines in the server log
        return pathlib.Path(log_path).read_text().count("closed tabs: dropped") if log_path else 0

    drops_before = drops()  # the warm-up tab's drop may be logged already
    for c in contexts:
        c.close()
    deadline = time.time() + settle_s

    def released():
        dropped = log_path is None or drops() > drops_before
        return dropped and rss(pid) <= report["rss_after_first_page"] + release_to

    while time.time() < deadline and not released():
        time.sleep(1)  # the janitor runs every 5 s
    report["rss_after_close"] = rss(pid)
    if log_path:
        report["drops_after_close"] = drops() - drops_before
    report["seconds_to_settle"] = round(settle_s - max(0.0, deadline - time.time()), 1)
    sampler.stop.set()
    return report


def run_with_server(tokens, browser=None, log_path=None, ks=None, release_to=0.25 * GB, wait_for_drop=False):
    """Start a server, run the class session at `tokens` (in `browser`, or a chromium launched here),
    stop the server; -> report. ks, release_to: as class_session's; wait_for_drop: the wait after the
    tabs close also needs the janitor's line in the server log."""
    log_path = log_path or ROOT / "test-results" / f"class-session-{tokens}.log"
    pathlib.Path(log_path).parent.mkdir(exist_ok=True)
    proc, url = start_server(log_path)
    timeout_s = 900 if tokens > 2048 else 300
    kwargs = dict(
        ks=ks, timeout_s=timeout_s, release_to=release_to, log_path=log_path if wait_for_drop else None
    )
    try:
        if browser is not None:
            return class_session(url, proc.pid, browser, tokens, **kwargs)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            own = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            try:
                return class_session(url, proc.pid, own, tokens, **kwargs)
            finally:
                own.close()
    finally:
        stop_server(proc)
