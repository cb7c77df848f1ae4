"""The app in a real browser: paste a text, click a token, move k, download a PNG, switch pages."""

import re

import class_session as cs
import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

TEXT = "The cat sat on the mat. The dog sat on the log. Where did the cat sit? The cat sat on the"
WAIT = 120_000


def summary(page):
    return page.get_by_text(re.compile(r"^Query \d+ "))


def wait_idle(page):
    """Until Streamlit's script run is over (class_session.wait_idle: its root's script state)."""
    cs.wait_idle(page, WAIT / 1000, start_s=0.3)


def test_paste_click_k_download_and_pages(page: Page, app_url, shot, tmp_path):
    outside = []
    page.on(
        "request", lambda r: None if r.url.startswith((app_url, "data:", "blob:")) else outside.append(r.url)
    )
    page.goto(app_url)
    expect(summary(page)).to_be_visible(timeout=WAIT)
    box = page.get_by_role("textbox", name="Text to analyse")
    box.fill(TEXT)
    box.press("Control+Enter")
    wait_idle(page)
    expect(page.get_by_text("the indexer kept 16 of them")).to_have_count(0)  # default k = 64 > text
    expect(page.get_by_text("every query keeps all its visible tokens")).to_be_visible(timeout=WAIT)
    shot(page, "01-pasted")

    # move k: 64 -> 8 (the text has ~24 tokens)
    k = page.get_by_role("spinbutton", name=re.compile("tokens kept per query"))
    k.fill("8")
    k.press("Enter")
    wait_idle(page)
    expect(page.get_by_text(re.compile(r"the indexer kept 8 of them"))).to_be_visible(timeout=WAIT)
    shot(page, "02-k8")

    # click a token in the clickable text grid: it becomes the query
    grid = page.locator(".js-plotly-plot").first
    grid.scroll_into_view_if_needed()
    points = grid.locator(".scatterlayer .point")
    expect(points.first).to_be_visible(timeout=WAIT)
    points.nth(5).click(force=True)
    wait_idle(page)
    expect(page.get_by_text(re.compile(r"^Query 5 "))).to_be_visible(timeout=WAIT)
    shot(page, "03-clicked-token-5")

    # download the strip as PNG through Plotly's modebar (drawn in the browser: works offline)
    strip = page.locator(".js-plotly-plot").nth(1)
    strip.scroll_into_view_if_needed()
    strip.hover()
    with page.expect_download(timeout=WAIT) as dl:
        strip.locator(".modebar-btn[data-title^='Download plot']").click()
    path = tmp_path / dl.value.suggested_filename
    dl.value.save_as(path)
    assert (
        path.suffix == ".png" and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    )

    # switch pages; each shows its own heading, no exception box
    for name, heading in [("Learn", "Learn"), ("Train", "Train"), ("Cost", "Cost"), ("Explore", "Explore")]:
        page.get_by_role("link", name=name).click()
        expect(page.get_by_role("heading", name=re.compile(heading)).first).to_be_visible(timeout=WAIT)
        wait_idle(page)
        expect(page.get_by_test_id("stException")).to_have_count(0)
        shot(page, f"04-page-{name.lower()}")
    assert not outside, f"the app fetched from outside (must work offline): {outside[:5]}"


def test_two_tabs_do_not_interfere(browser, app_url, shot):
    """Two sessions: changing k in one leaves the other's settings and page alone."""
    a, b = (browser.new_context(viewport={"width": 1280, "height": 720}).new_page() for _ in range(2))
    for p in (a, b):
        p.goto(app_url)
        expect(summary(p)).to_be_visible(timeout=WAIT)
    expect(b.get_by_text(re.compile(r"the indexer kept 64 of them"))).to_be_visible(timeout=WAIT)
    k = a.get_by_role("spinbutton", name=re.compile("tokens kept per query"))
    k.fill("16")
    k.press("Enter")
    wait_idle(a)
    expect(a.get_by_text(re.compile(r"the indexer kept 16 of them"))).to_be_visible(timeout=WAIT)
    b.get_by_role("link", name="Learn").click()  # b reruns after a's change ...
    b.get_by_role("link", name="Explore").click()
    wait_idle(b)
    expect(b.get_by_text(re.compile(r"the indexer kept 64 of them"))).to_be_visible(
        timeout=WAIT
    )  # ... unchanged
    shot(a, "05-tab-a-k16")
    shot(b, "05-tab-b-k64")
    for p in (a, b):
        p.context.close()


def test_clicking_a_map_cell_picks_its_row_as_the_query(page: Page, app_url, shot):
    """The aligned maps are clickable: a cell's row (query) becomes the query of the whole page."""
    page.goto(app_url)
    expect(summary(page)).to_be_visible(timeout=WAIT)
    sentence = page.locator("p", has_text=re.compile(r"it sees \d+ tokens"))
    first = summary(page).inner_text()
    T = int(re.search(r"it sees (\d+) tokens", sentence.inner_text()).group(1))  # default: query = last token
    maps = page.locator(".js-plotly-plot").filter(has_text="index scores (unnormalised)")
    maps.scroll_into_view_if_needed()
    cell = maps.locator(".nsewdrag").first  # the index-score panel's plotting area
    expect(cell).to_be_visible(timeout=WAIT)
    box = cell.bounding_box()
    cell.click(position={"x": box["width"] * 0.15, "y": box["height"] * 0.8}, force=True)
    wait_idle(page)
    expect(summary(page)).not_to_have_text(first, timeout=WAIT)
    q = int(re.match(r"Query (\d+) ", summary(page).inner_text()).group(1))
    assert 0.65 * T < q < 0.95 * T, (q, T)  # the clicked row, 80% down the map
    slider = page.get_by_role("slider", name=re.compile("Query token"))
    expect(slider).to_match_aria_snapshot(f'- slider /Query token/: "{q}"')  # the slider follows
    shot(page, "06-clicked-map-row")


def test_dark_mode_at_projector_size(browser, app_url, shot):
    """Streamlit follows the viewer's dark preference; figures keep transparent backgrounds (no white
    boxes on a dark page) and the text chips stay legible. Screenshots at 1280x720 for a look."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 720}, color_scheme="dark")
    page = ctx.new_page()
    page.goto(app_url)
    expect(summary(page)).to_be_visible(timeout=WAIT)
    expect(page.locator(".js-plotly-plot .main-svg").first).to_be_attached(timeout=WAIT)
    wait_idle(page)
    rgb = page.evaluate("getComputedStyle(document.querySelector('.stApp')).backgroundColor")
    assert sum(int(c) for c in re.findall(r"\d+", rgb)[:3]) < 150, rgb  # a dark page
    backgrounds = page.evaluate(
        "[...document.querySelectorAll('.js-plotly-plot .main-svg')]"
        ".map(s => s.style.background || getComputedStyle(s).backgroundColor)"
    )
    assert backgrounds and all(b in ("rgba(0, 0, 0, 0)", "transparent") for b in backgrounds), backgrounds
    shot(page, "07-dark-explore")
    page.locator(".dsa-text").first.scroll_into_view_if_needed()
    shot(page, "07-dark-text")
    ctx.close()
