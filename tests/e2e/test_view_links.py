"""Links to a view in a real browser: set a view (pasted text, k, query, Learn page), copy the link with
the sidebar's copy button, open it in a fresh browser context (no cookies, no session): same view."""

import re

import class_session as cs
import pytest
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.e2e

TEXT = "Alice gave Bob a red apple. Bob gave Carol the apple. Who has the red apple now? Carol has the"
WAIT = 120_000


def wait_idle(page):
    """Until Streamlit's script run is over (class_session.wait_idle: its root's script state)."""
    cs.wait_idle(page, WAIT / 1000, start_s=0.3)


def test_a_copied_link_restores_the_view_in_a_fresh_browser(page: Page, browser: Browser, app_url, shot):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_url)
    page.goto(app_url)
    expect(page.get_by_text(re.compile(r"^Query \d+ "))).to_be_visible(timeout=WAIT)
    box = page.get_by_role("textbox", name="Text to analyse")
    box.fill(TEXT)
    box.press("Control+Enter")
    expect(page.get_by_text("every query keeps all its visible tokens")).to_be_visible(timeout=WAIT)
    wait_idle(page)
    k = page.get_by_role("spinbutton", name=re.compile("tokens kept per query"))
    k.fill("4")
    k.press("Enter")
    expect(page.get_by_text(re.compile("the indexer kept 4 of them"))).to_be_visible(timeout=WAIT)
    wait_idle(page)
    grid = page.locator(".js-plotly-plot").first  # click a token of the text grid: it becomes the query
    grid.scroll_into_view_if_needed()
    points = grid.locator(".scatterlayer .point")
    expect(points.first).to_be_visible(timeout=WAIT)
    q = 7
    points.nth(q).click(force=True)
    expect(page.get_by_text(re.compile(rf"^Query {q} "))).to_be_visible(timeout=WAIT)
    wait_idle(page)
    expect(page.get_by_role("combobox", name="Text")).to_have_value("Your text")  # the selector follows
    assert f"q={q}" in page.url and "k=4" in page.url and "text=" in page.url  # the address bar follows

    box = page.get_by_test_id("stExpander").filter(has_text="Link to this view")  # in the query's part
    box.get_by_text("Link to this view").click()
    code = box.get_by_test_id("stCode")
    link = ""
    for _ in range(3):  # the copy is asynchronous: on a loaded machine the clipboard fills a moment later
        code.hover()
        code.get_by_role("button").click()  # Streamlit's copy-to-clipboard button
        for _ in range(25):
            link = page.evaluate("navigator.clipboard.readText()")
            if link:
                break
            page.wait_for_timeout(200)
        if link:
            break
    assert link.startswith(app_url) and f"q={q}" in link, link
    shot(page, "link-copied")

    fresh = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        other = fresh.new_page()
        other.goto(link)
        expect(other.get_by_text(re.compile(rf"^Query {q} "))).to_be_visible(timeout=WAIT)
        expect(other.get_by_text(re.compile("the indexer kept 4 of them"))).to_be_visible()
        # the sidebar of a loaded machine can lag the page's first lines: wait as long as for the page
        expect(other.get_by_role("textbox", name="Text to analyse")).to_have_value(TEXT, timeout=WAIT)
        expect(other.get_by_role("combobox", name="Text")).to_have_value("Your text", timeout=WAIT)
        shot(other, "link-opened-fresh")
        # the same link on the Learn page opens Learn with the same settings
        other.goto(
            link.replace(app_url + "/?", app_url + "/learn?").replace(app_url + "?", app_url + "/learn?")
        )
        expect(other.get_by_text(re.compile(rf"On your text: .*k = 4, query {q} "))).to_be_visible(
            timeout=WAIT
        )
        # a link to a pasted text this server has never seen says so, and keeps the other settings
        other.goto(re.sub(r"text=[0-9a-f]+", "text=0123456789ab", link))
        expect(other.get_by_text(re.compile("is not on this server"))).to_be_visible(timeout=WAIT)
    finally:
        fresh.close()
