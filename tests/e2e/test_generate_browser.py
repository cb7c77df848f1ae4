"""The Generate page in a real browser: a short text continued by 3 tokens, dense and DSA, then a step."""

import re

import class_session as cs
import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

TEXT = "The cat sat on the mat. The dog sat on the log. Where did the cat sit? The cat sat on the"
WAIT = 120_000


def test_generate_three_tokens_and_look_at_a_step(page: Page, app_url, shot):
    outside = []
    page.on(
        "request", lambda r: None if r.url.startswith((app_url, "data:", "blob:")) else outside.append(r.url)
    )
    page.goto(app_url + "/generate")
    expect(page.get_by_role("heading", name=re.compile("Generate")).first).to_be_visible(timeout=WAIT)
    box = page.get_by_role("textbox", name="Text to analyse")
    box.fill(TEXT)
    box.press("Control+Enter")
    cs.wait_idle(page, WAIT / 1000, start_s=0.3)
    n = page.get_by_role("spinbutton", name="New tokens")
    n.fill("3")
    n.press("Enter")
    cs.wait_idle(page, WAIT / 1000, start_s=0.3)
    page.get_by_role("button", name=re.compile(r"^Generate 3 tokens")).click()
    cs.wait_idle(page, WAIT / 1000, start_s=0.5)
    expect(page.get_by_text("First different token")).to_be_visible(timeout=WAIT)
    expect(page.get_by_text(re.compile(r"^DSA's token \*?\*?#3|DSA's token #3"))).to_be_visible(timeout=WAIT)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    shot(page, "generate-3-tokens")
    assert not outside, f"the app fetched from outside (must work offline): {outside[:5]}"
