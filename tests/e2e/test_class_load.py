"""Load test: three students at once on one server (tests/e2e/class_session.py). Resident memory stays
under the ceiling throughout and falls back after the tabs close; no session freezes (every step of
every tab finishes, with no exception box). CI runs it at 512 tokens (DSA_LOAD_TOKENS to change it)
with k at its two ends (8 and every token) before the k = 64 of the model comparison;
`python benchmarks/app_bench.py --class-session 8192` runs the same script at 8,192 tokens, through six
values of k."""

import json
import os

import class_session as cs
import pytest

pytestmark = pytest.mark.e2e
GB = cs.GB


def test_three_students_stay_under_the_memory_ceiling_and_never_freeze(browser, tmp_path):
    tokens = int(os.environ.get("DSA_LOAD_TOKENS", "512"))
    # after the tabs close, what the three sessions cached is dropped and the memory given back (measured
    # at 512 tokens: 0.3-0.4 GB above the one-page baseline stays, allocator and Streamlit state); the
    # memory is read once the janitor has logged a drop since the close and the memory is back under that
    # bound, or after 30 s
    report = cs.run_with_server(
        tokens,
        browser,
        log_path=tmp_path / "server.log",
        ks=[8, tokens],
        release_to=0.6 * GB,
        wait_for_drop=True,
    )
    out = cs.ROOT / "test-results" / "e2e"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"class-session-{tokens}.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))
    steps = [s["step"] for s in report["steps"]]
    assert "run the model twice" in steps and sum(s.startswith("k = ") for s in steps) == 3, steps
    assert report["peak_rss_bytes"] < cs.CEILING, report
    assert report["rss_after_close"] < cs.CEILING, report
    assert report["drops_after_close"] >= 1, report  # "closed tabs: dropped" logged after the close
    assert report["rss_after_close"] <= report["rss_after_first_page"] + 0.6 * GB, report


def test_cancel_stops_the_model_comparison(page, app_url):
    """Run the model twice on 2,048 tokens, press Cancel: the run stops (the page is idle again long
    before the comparison could finish) and says it was cancelled; nothing was computed."""
    page.goto(app_url)
    cs.wait_idle(page, 300)
    cs._paste(cs.TEXT * 2)(page)
    cs.wait_idle(page, 300)
    cs._token_limit(2048)(page)
    cs.wait_idle(page, 600)
    cs._run_twice(page)
    cancel = page.get_by_role("button", name="Cancel")
    cancel.wait_for(timeout=60_000)
    cancel.click()
    cs.wait_idle(page, 60)
    assert page.get_by_text("Cancelled: the two model runs were stopped").count() == 1
    assert page.get_by_text("Mean KL over the text").count() == 0
