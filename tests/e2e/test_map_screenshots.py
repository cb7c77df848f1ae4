"""Projector checks in a real browser: the Explore page's six maps are not near-uniform (light and dark
themes, 1280x720 and 1920x1080); no figure's texts (title, caption, subplot titles, legend, axis and
colour-bar titles) overlap each other or a drawn map; Learn's code line and the Cost page's first chart
fit a 1280x720 screen; log axes label every tick at full size. Screenshots of every case are kept under
test-results/e2e/."""

import pathlib

import class_session as cs
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

WAIT = 120_000
SHOTS = pathlib.Path(__file__).resolve().parents[2] / "test-results" / "e2e"
SIZES = [(1280, 720), (1920, 1080)]

# For each map <image> of a plot (a heatmap is drawn as a PNG data URL, a large map is a go.Image PNG;
# an invisible one-cell heatmap carrying a colour bar is skipped): read its pixels on a canvas, skip
# transparent ones (the causal future, drawn as the grey background), and report the spread of
# luminance: its standard deviation and the share of pixels near the median.
PIXEL_STATS = """async (plot) => {
  const out = [];
  const shown = (e) => {  // not an invisible one-cell heatmap that only carries a colour bar
    for (; e && e !== plot; e = e.parentElement)
      if (getComputedStyle(e).opacity === '0' || e.getAttribute('opacity') === '0') return false;
    return true;
  };
  for (const img of plot.querySelectorAll(':is(.heatmaplayer, .imagelayer) image')) {
    if (!shown(img)) continue;
    const el = new Image();
    el.src = img.getAttribute('href') || img.getAttributeNS('http://www.w3.org/1999/xlink', 'href');
    await el.decode();
    const c = document.createElement('canvas');
    c.width = el.naturalWidth; c.height = el.naturalHeight;
    const g = c.getContext('2d'); g.drawImage(el, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    const lum = [];
    for (let i = 0; i < d.length; i += 4)
      if (d[i + 3] > 0) lum.push(0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2]);
    lum.sort((a, b) => a - b);
    const mean = lum.reduce((a, b) => a + b, 0) / lum.length;
    const std = Math.sqrt(lum.reduce((a, b) => a + (b - mean) ** 2, 0) / lum.length);
    const med = lum[Math.floor(lum.length / 2)];
    const near = lum.filter(v => Math.abs(v - med) <= 6).length / lum.length;
    out.push({n: lum.length, std: std, near_median: near});
  }
  return out;
}"""


def _wait_idle(page):
    """Until Streamlit's script run is over (class_session.wait_idle: its root's script state)."""
    cs.wait_idle(page, WAIT / 1000, start_s=0.3)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_explore_maps_show_structure(browser, app_url, scheme, size):
    SHOTS.mkdir(parents=True, exist_ok=True)
    ctx = browser.new_context(viewport={"width": size[0], "height": size[1]}, color_scheme=scheme)
    page = ctx.new_page()
    try:
        page.goto(app_url)
        maps = page.locator(".js-plotly-plot").filter(has_text="index scores (unnormalised)")
        expect(maps.locator(":is(.heatmaplayer, .imagelayer) image").first).to_be_attached(timeout=WAIT)
        _wait_idle(page)
        maps.scroll_into_view_if_needed()
        maps.screenshot(path=str(SHOTS / f"maps-{scheme}-{size[0]}x{size[1]}.png"))
        titles = maps.evaluate("p => [...p.querySelectorAll('.annotation')].map(e => e.textContent)")
        stats = dict(zip(_panel_kinds(titles), maps.evaluate(PIXEL_STATS)))
        for kind in ("dense", "sparse", "diff"):
            s = stats[kind]
            assert s["n"] > 1000, (kind, s)
            # the former linear-ish scales gave, on this page's maps (layer 10, k = 64): share of pixels near
            # the median 0.82 (dense), 0.79 (sparse), 1.0 (difference, std 0.4); the new ones 0.49, 0.56, 0.19
            assert s["std"] > 15 and s["near_median"] < 0.7, f"{kind} map is near-uniform: {s}"
        caption = " ".join(titles)
        assert "power scale" in caption and "|Δp|" in caption  # the scales are named
        _assert_no_overlap(maps)
    finally:
        ctx.close()


def _panel_kinds(titles):
    """Panel titles in drawing order -> map kinds (the six-map grid's titles, see viz/heatmaps.py)."""
    names = {
        "index scores": "scores",
        "kept by": "mask",
        "ideal top-k": "oracle",
        "dense attention": "dense",
        "sparse (DSA)": "sparse",
        "sparse − dense": "diff",
    }
    return [
        next(k for n, k in names.items() if t.startswith(n))
        for t in titles
        if any(t.startswith(n) for n in names)
    ]


# bounding boxes of a plot's texts (title, legend, annotations: subplot titles and captions, axis and
# colour-bar titles), of its drawn maps (Plotly draws a heatmap as an <image>) and of the plot itself
BOXES = """(plot) => {
  const boxes = [];
  const add = (sel, kind) => plot.querySelectorAll(sel).forEach(e => {
    const b = e.getBoundingClientRect();
    if (b.width > 0 && b.height > 0)
      boxes.push({kind, text: (e.textContent || '').slice(0, 40),
                  l: b.left, t: b.top, r: b.right, b: b.bottom});
  });
  add('.gtitle', 'title'); add('.legend .bg', 'legend'); add('.annotation-text-g', 'annotation');
  add('.xtitle', 'axis title'); add('.ytitle', 'axis title'); add('.cbtitle', 'colour-bar title');
  add(':is(.heatmaplayer, .imagelayer) image', 'map'); add('.main-svg', 'figure');
  return boxes;
}"""


def _hits(a, b):
    return a["l"] < b["r"] - 1 and b["l"] < a["r"] - 1 and a["t"] < b["b"] - 1 and b["t"] < a["b"] - 1


def _assert_no_overlap(plot):
    """No two texts of a figure overlap (titles, captions, subplot titles, legend, axis titles), no text
    lies on a drawn map, and every text lies inside the figure (none clipped at its top)."""
    boxes = plot.evaluate(BOXES)
    texts = [b for b in boxes if b["kind"] not in ("map", "figure")]
    maps = [b for b in boxes if b["kind"] == "map"]
    fig = next(b for b in boxes if b["kind"] == "figure")
    for i, a in enumerate(texts):
        assert a["t"] >= fig["t"] - 1 and a["b"] <= fig["b"] + 1, f"{a['kind']} {a['text']!r} is clipped"
        for b in texts[i + 1 :] + maps:
            assert not _hits(a, b), f"{a['kind']} {a['text']!r} overlaps {b['kind']} {b['text']!r}"


def _assert_full_size_log_ticks(plot):
    """Every tick label of a log axis at full size (no small '2' and '5' between the decades)."""
    sizes = plot.evaluate(
        """p => [...p.querySelectorAll('.xtick text, .ytick text')]
                 .filter(t => t.textContent).map(t => parseFloat(getComputedStyle(t).fontSize))"""
    )
    assert sizes and min(sizes) >= 12, sizes


def test_learn_and_cost_fit_a_projector(browser, app_url):
    """At 1280x720: Learn 1's titled map keeps its title, caption and panel title apart; Learn 3's code
    line wraps instead of running off the right edge, and its query strip's texts stay apart; the Cost
    page's first chart (the class's hook) is whole on screen without scrolling, with full-size ticks."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    page = ctx.new_page()
    try:
        page.goto(f"{app_url}/learn?step=1")
        heat = page.locator(".js-plotly-plot").filter(has_text="Dense attention on your text")
        expect(heat.locator(":is(.heatmaplayer, .imagelayer) image").first).to_be_attached(timeout=WAIT)
        _wait_idle(page)
        heat.scroll_into_view_if_needed()
        heat.screenshot(path=str(SHOTS / "learn1-map-1280x720.png"))
        _assert_no_overlap(heat)

        page.goto(f"{app_url}/learn?step=3")
        strip = page.locator(".js-plotly-plot").filter(has_text="index score I[t, s]")
        expect(strip).to_be_attached(timeout=WAIT)
        _wait_idle(page)
        code = page.locator("pre").filter(has_text="select_topk(scores, k=").first
        code.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "learn3-1280x720.png"))
        overflow = code.evaluate("e => e.scrollWidth - e.clientWidth")
        assert overflow <= 1, f"the code line runs {overflow}px past the right edge of its box"
        box, width = code.bounding_box(), page.viewport_size["width"]
        assert box["x"] + box["width"] <= width, box
        _assert_no_overlap(strip)

        page.goto(f"{app_url}/cost")
        hook = page.locator(".js-plotly-plot").filter(has_text="context length (tokens)").first
        expect(hook.locator(".legend")).to_be_attached(timeout=WAIT)
        _wait_idle(page)
        page.wait_for_timeout(300)
        page.screenshot(path=str(SHOTS / "cost-hook-1280x720.png"))
        assert page.evaluate("window.scrollY") == 0
        bottom = hook.evaluate("p => p.getBoundingClientRect().bottom")
        assert bottom <= 720, f"the hook chart ends at {bottom:.0f}px: it needs scrolling at 1280x720"
        _assert_no_overlap(hook)
        _assert_full_size_log_ticks(hook)
    finally:
        ctx.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_line_chart_legends_overlap_no_title(browser, tmp_path, scheme, size):
    """07's Figure-3 fit and measured timings and 06's training curves (the figures that overlapped),
    and the pipeline diagram, drawn offline by the bundled plotly.js at projector sizes."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    import plotly.io as pio

    figures = _figures(template="plotly_dark" if scheme == "dark" else "plotly")
    body = "".join(
        f"<div class='fig' id='{name}'>"
        + pio.to_html(fig, include_plotlyjs=(i == 0), full_html=False, default_width="100%")
        + "</div>"
        for i, (name, fig) in enumerate(figures.items())
    )
    page_bg = "#0e1117" if scheme == "dark" else "#ffffff"
    html = tmp_path / "figures.html"
    html.write_text(
        f"<html><head><meta charset='utf-8'></head><body style='background:{page_bg}'>{body}</body></html>"
    )
    ctx = browser.new_context(viewport={"width": size[0], "height": size[1]}, color_scheme=scheme)
    page = ctx.new_page()
    try:
        page.route(
            "**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:")) else r.abort()
        )
        page.goto(html.as_uri())
        expect(page.locator(".js-plotly-plot .main-svg").first).to_be_attached(timeout=WAIT)
        page.wait_for_timeout(500)
        for name in figures:
            plot = page.locator(f"#{name} .js-plotly-plot")
            plot.screenshot(path=str(SHOTS / f"legend-{name}-{scheme}-{size[0]}x{size[1]}.png"))
            _assert_no_overlap(plot)
            if name in ("timing", "training"):  # log axes
                _assert_full_size_log_ticks(plot)
    finally:
        ctx.close()


def _figures(template):
    import numpy as np

    from course import timing
    from dsa_core import viz
    from dsa_core.cost import paper, report

    fits = paper.fit_all()["main"]
    series = {f"{c} (fit, R² {f['r2']:.3f})": f["grid"]["cost"] for c, f in fits.items()}
    marks = {
        f"{c} (read off the plot)": (f["points"]["position"], f["points"]["cost"]) for c, f in fits.items()
    }
    grid = fits["prefill/dense"]["grid"]["position"]
    fig3 = viz.line_chart(
        grid,
        series,
        "token position",
        "USD per million tokens",
        markers=marks,
        height=520,
        title="Figure 3 of the V3.2-Exp report: read-offs and the arithmetic fit",
    )
    result = timing.recorded()
    pred, meas = {}, {}
    for v in ("dense/sdpa_causal", "dense/dense_attention", "dsa/total"):
        s = report.series(result, v)
        pred[f"{v} (predicted)"], meas[f"{v} (measured)"] = s["predicted_ms"], (s["T"], s["ms"])
    timing_fig = viz.line_chart(
        result["lengths"],
        pred,
        "tokens T",
        "milliseconds",
        log_x=True,
        log_y=True,
        markers=meas,
        title=f"measured on {result['device_name']} ({result['threads']} threads)",
    )
    steps = np.arange(0, 100, 10)
    curves = viz.training_curves(
        steps,
        np.linspace(1, 0.1, 10),
        {
            "recall (held-out)": np.linspace(0.2, 0.9, 10),
            "overlap with ideal top-k": np.linspace(0.1, 0.8, 10),
        },
    )
    figures = {"fig3": fig3, "timing": timing_fig, "training": curves, "pipeline": viz.pipeline_diagram(k=64)}
    for fig in figures.values():
        fig.update_layout(template=template)
    return figures
