"""A notebook exported to HTML draws its Plotly figures in a browser with no network at all.

Executes notebooks/01_attention.ipynb, exports it with course.export_html, checks that the
file loads no http(s) script and carries its markdown math as MathML (no MathJax from a CDN), then
opens it in Debian's headless Chromium (Playwright) with every non-file request blocked and recorded,
and asserts that a Plotly heatmap and the math were drawn. Every notebook of the course is also
exported with the network blocked, each carrying real widget state (as the explorer's sliders leave
it in notebooks 02-05), and must not ask for a widget renderer or any other script from the network.
"""

import pathlib
import re
from concurrent.futures import ThreadPoolExecutor

import nbformat
import pytest
from nbclient import NotebookClient

from course.notebook import export_html, math_to_mathml

ROOT = pathlib.Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "01_attention.ipynb"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--metrics-recording-only",
    "--disable-extensions",
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()
    html = tmp_path_factory.mktemp("export") / "01_attention.html"
    export_html(nb, html)
    return nb, html


def test_figures_carry_both_the_plotly_mimetype_and_an_inline_html_fallback(exported):
    nb, _ = exported
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "data" in o]
    figures = [o for o in outputs if "application/vnd.plotly.v1+json" in o["data"]]
    assert figures, "no Plotly figure in the executed notebook"
    assert all("text/html" in o["data"] for o in figures), "a figure lacks its HTML fallback"
    inline_js = [o for o in outputs if "text/html" in o["data"] and len(o["data"]["text/html"]) > 1_000_000]
    assert inline_js, "plotly.js is not embedded inline"


def test_exported_html_has_no_network_scripts(exported):
    _, html = exported
    text = html.read_text(encoding="utf-8")
    assert "Plotly.newPlot" in text
    remote = re.findall(r"<script[^>]*\bsrc=[\"']?(?:https?:)?//[^>]*>", text, flags=re.I)
    assert not remote, f"scripts loaded from the network: {remote[:3]}"
    links = re.findall(r"<link[^>]*\bhref=[\"']?(?:https?:)?//[^>]*>", text, flags=re.I)
    assert not links, f"stylesheets loaded from the network: {links[:3]}"


@pytest.fixture(scope="module")
def widget_notebook():
    """A tiny notebook executed with a live slider: widget state and output, as the explorer leaves them."""
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import ipywidgets as w\nw.IntSlider(value=3, max=255)")]
    )
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    assert "widgets" in nb.metadata and nb.cells[0].outputs, "the slider left no widget state"
    return nb


def _no_network(monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_every_notebook_exports_offline_with_widgets(widget_notebook, tmp_path, monkeypatch):
    _no_network(monkeypatch)
    paths = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert len(paths) >= 8
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        nb.metadata["widgets"] = widget_notebook.metadata["widgets"]
        nb.cells.append(widget_notebook.cells[0])
        text = export_html(nb, tmp_path / f"{path.stem}.html").read_text(encoding="utf-8")
        assert "application/vnd.jupyter.widget-view+json" in text, path.name  # the widget is in the file
        for cdn in ("unpkg.com", "embed-amd.js", "html-manager@", "cdnjs.cloudflare.com", "require.js"):
            assert cdn not in text, (path.name, cdn)
        remote = re.findall(
            r"<(?:script|link)[^>]*\b(?:src|href)=[\"']?(?:https?:)?//[^>]*>", text, flags=re.I
        )
        assert not remote, (path.name, remote[:3])


def test_markdown_math_becomes_mathml(exported):
    nb, html = exported
    text = html.read_text(encoding="utf-8")
    tex = sum(c.source.count("$") for c in nb.cells if c.cell_type == "markdown")
    assert tex, "notebook 01 has no markdown math to convert"
    assert text.count("<math") >= 5, "the markdown math was not converted to MathML"
    assert "$$" not in text.split("<script")[0]  # no display TeX left in the page body
    # code spans and prices stay as they are; a formula becomes one <math> element
    out = math_to_mathml("costs $0.56 and `a$b` but $T(T+1)/2$ scores")
    assert "costs $0.56 and `a$b` but <math" in out and out.count("<math") == 1


@pytest.mark.e2e
def test_exported_html_draws_plotly_offline_in_chromium(exported):
    assert pathlib.Path(CHROMIUM).exists(), "Debian chromium missing: apt-get install -y chromium"
    _, html = exported
    # Playwright's sync API refuses to run where an asyncio loop is running (pytest-playwright leaves
    # one behind after the e2e tests), so the browser runs in a thread of its own.
    with ThreadPoolExecutor(max_workers=1) as pool:
        blocked, errors = pool.submit(_open_in_chromium, html).result()
    assert not blocked, f"the page tried to reach the network: {blocked[:5]}"
    assert not errors, f"JavaScript errors: {errors[:3]}"


def _open_in_chromium(html):
    """Open the exported file with every non-file request blocked; return (blocked URLs, JS errors)."""
    from playwright.sync_api import sync_playwright

    blocked, errors = [], []

    def only_local(route):
        if route.request.url.startswith(("file:", "data:", "blob:", "about:")):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", only_local)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(html.resolve().as_uri(), wait_until="load")
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
            assert page.locator(".js-plotly-plot").count() >= 1
            # a heatmap is drawn as an <image> inside the plot's SVG; the colour bar is drawn too
            assert page.locator(".js-plotly-plot :is(.heatmaplayer, .imagelayer) image").count() >= 1
            assert page.locator(".js-plotly-plot .colorbar").count() >= 1
            # the MathML is laid out by the browser itself (no script): it takes up room on the page
            sizes = page.evaluate(
                "[...document.querySelectorAll('math')].map(m => m.getBoundingClientRect().width)"
            )
            assert len(sizes) >= 5 and min(sizes) > 0, sizes
        finally:
            browser.close()
    return blocked, errors
