"""Server-side time and memory of the app's interactions, measured with Streamlit's AppTest (the script
run that a browser interaction triggers; network and drawing are not included), and optionally the
class session of tests/e2e/class_session.py (3 browsers at once) against a real server.

    python benchmarks/app_bench.py [--lengths 512,2048,8192] [--threads N] [--json out.json]
    python benchmarks/app_bench.py --class-session 8192        # 3 Playwright contexts, real server

Budgets (docs/app.md, 2-core CPU, after the first model load): any control (query, k, head, zoom, page)
<= 1 s; a new text or layer <= 15 s at 8,192 tokens (2 s at 512, 8 s at 2,048 tokens); the
whole-model comparison <= 60 s. Memory: the resident size of this process (it is the server) after
each step and its peak; the server-wide ceiling is 4 GB. The load average is printed with the
results: other work on the machine inflates every number.
"""

import argparse
import json
import os
import pathlib
import resource
import sys

from _apptest import ROOT, TEXT, timed  # this folder is on sys.path when run as a script

GB = 2**30


def rss():
    """Resident bytes of this process now."""
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def check(at):
    """The AppTest after a script run; raises if the run ended in an exception (an st.error box is a
    message the page chose to show, e.g. for a k above the text's length, so it does not count)."""
    if at.exception:
        raise RuntimeError(at.exception[0].value)
    return at


def interactions(at, n, rows):
    """Every control on the Explore page at n tokens, appended to rows as (case, seconds, budget, rss)."""

    def row(name, seconds, budget):
        rows.append((f"{name} ({n} tokens)", seconds, budget, rss()))

    text = (TEXT + "\n") * (1 + n // 2500)
    at.session_state["max_tokens"] = n
    at.session_state["text"] = f"{n}: " + text  # a new text: nothing cached yet
    new_budget = 2.0 if n <= 512 else 8.0 if n <= 2048 else 15.0
    row("new text (trace, rankings, first view)", timed(lambda: check(at.run())), new_budget)
    qs = iter(range(n - 2, 0, -7))
    row("  move the query", timed(lambda: check(at.slider(key="query").set_value(next(qs)).run()), 5), 1.0)
    ks = iter([48, 32, 96, 80, 112])
    row(
        "  new k <= 128, first time",
        timed(lambda: check(at.number_input(key="k").set_value(next(ks)).run()), 3),
        1.0,
    )
    big = iter([304, 400, 1000] if n < 2048 else [304, 2048, n // 2])
    row(
        "  new k above 128, first time",
        timed(lambda: check(at.number_input(key="k").set_value(next(big)).run()), 3),
        1.0,
    )
    row(
        "  k = the whole length, first time",
        timed(lambda: check(at.number_input(key="k").set_value(n).run())),
        1.0,
    )
    ks2 = iter([48, 32, 96])
    row("  k seen before", timed(lambda: check(at.number_input(key="k").set_value(next(ks2)).run()), 3), 1.0)
    hs = iter(["head 1", "head 4", "head 7"])
    row("  change the head", timed(lambda: check(at.selectbox(key="head").set_value(next(hs)).run()), 3), 1.0)
    at.selectbox(key="head").set_value("mean of heads").run()
    if n > 192:
        row("  zoom on", timed(lambda: check(at.toggle(key="zoom_on").set_value(True).run())), 1.0)
        row(
            "  move the zoom window",
            timed(lambda: check(at.slider(key="zoom_lo").set_value(n // 3).run())),
            1.0,
        )
        at.toggle(key="zoom_on").set_value(False).run()
    row(
        "  switch to Learn and back",
        timed(
            lambda: (
                check(at.switch_page("lessons/learn.py").run()),
                check(at.switch_page("lessons/explore.py").run()),
            )
        )
        / 2,
        1.0,
    )
    layers = iter([29, 3])
    row(
        "  new layer",
        timed(lambda: check(at.slider(key="layer").set_value(next(layers)).run()), 2),
        new_budget,
    )
    at.slider(key="layer").set_value(10).run()
    at.number_input(key="k").set_value(64).run()
    row(
        "  run the model twice (k = 64)",
        timed(lambda: check(at.button(key="run_effect").click().run())),
        60.0,
    )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lengths", default="512,2048,8192", help="token limits to time the controls at")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--threads", type=int, help="torch threads (1 = comparable on a shared machine)")
    p.add_argument(
        "--class-session", type=int, metavar="TOKENS", help="run the 3-browser class session instead"
    )
    a = p.parse_args(argv)
    if a.class_session:
        sys.path.insert(0, str(ROOT / "tests" / "e2e"))
        import class_session

        report = class_session.run_with_server(a.class_session)
        print(json.dumps(report, indent=1))
        if a.json:
            pathlib.Path(a.json).write_text(json.dumps(report, indent=1))
        return
    import torch
    from streamlit.testing.v1 import AppTest

    if a.threads:
        torch.set_num_threads(a.threads)
    rows, load0 = [], os.getloadavg()[0]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.session_state["sample"] = "Your own text"
    at.session_state["text"], at.session_state["max_tokens"] = "Warm-up: load the model once.", 64
    rows.append(("first start: model load + a 10-token text", timed(lambda: check(at.run())), None, rss()))
    for n in [int(x) for x in a.lengths.split(",")]:
        interactions(at, n, rows)
    load1 = os.getloadavg()[0]
    print(
        f"app server time (AppTest script runs), load average {load0:.1f} -> {load1:.1f} on {os.cpu_count()} "
        f"cores, {torch.get_num_threads()} torch thread(s); peak resident {peak() / GB:.2f} GB"
    )
    for name, s, budget, r in rows:
        ok = "" if budget is None else ("ok" if s <= budget else f"OVER {budget} s")
        print(f"{name:<58} {s:7.3f} s  rss {r / GB:5.2f} GB  {ok}")
    if a.json:
        pathlib.Path(a.json).write_text(
            json.dumps(
                {
                    "load_avg": [load0, load1],
                    "peak_rss_bytes": peak(),
                    "rows": [
                        {"case": n.strip(), "seconds": s, "budget_s": b, "rss_bytes": r}
                        for n, s, b, r in rows
                    ],
                    "threads": torch.get_num_threads(),
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
