"""Server-side time of the app's interactions, measured with Streamlit's AppTest (the script run that a
browser interaction triggers; network and drawing are not included).

    python benchmarks/app_bench.py [--lengths 512,2048] [--threads 1] [--json out.json]

Budgets (docs/app.md, 2-core CPU, after the first model load): changing the query, k, head or page
<= 0.3 s; a new 512-token text <= 2 s; 2048 tokens <= 8 s. The 1-minute load average is printed
with the results: other work on the machine inflates every number.
"""

import argparse
import json
import os
import pathlib
import statistics
import time

from streamlit.testing.v1 import AppTest

ROOT = pathlib.Path(__file__).resolve().parents[1]
TEXT = (ROOT / "assets" / "texts" / "contract.txt").read_text()


def timed(fn, repeats=1):
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def check(at):
    if at.exception:
        raise RuntimeError(at.exception[0].value)
    return at


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lengths", default="512,2048", help="token limits to time a new text at")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--threads", type=int, help="torch threads (1 = comparable on a shared machine)")
    a = p.parse_args(argv)
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    rows, load0 = [], os.getloadavg()[0]

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.session_state["sample"] = "Your own text"
    at.session_state["text"], at.session_state["max_tokens"] = "Warm-up: load the model once.", 64
    rows.append(("first start: model load + a 10-token text", timed(lambda: check(at.run())), None))

    for n in [int(x) for x in a.lengths.split(",")]:
        text = (TEXT + "\n") * (1 + n // 2500)
        at.session_state["max_tokens"] = n
        at.session_state["text"] = f"{n}: " + text  # a new text: nothing cached yet
        budget = 2.0 if n <= 512 else 8.0 if n <= 2048 else None
        rows.append((f"new text, {n} tokens (trace + first view)", timed(lambda: check(at.run())), budget))
        T = n
        qs = iter(range(T - 2, 0, -7))
        rows.append(
            (
                f"  move the query ({n} tokens)",
                timed(lambda: check(at.slider(key="query").set_value(next(qs)).run()), 5),
                0.3,
            )
        )
        ks = iter([48, 32, 96, 80, 112, 24, 40])
        rows.append(
            (
                f"  new k, first time ({n} tokens)",
                timed(lambda: check(at.number_input(key="k").set_value(next(ks)).run()), 3),
                0.3,
            )
        )
        big = iter([304, 272, 400])
        rows.append(
            (
                f"  new k above 128, first time ({n} tokens)",
                timed(lambda: check(at.number_input(key="k").set_value(next(big)).run()), 3),
                0.3,
            )
        )
        ks2 = iter([48, 32, 96])
        rows.append(
            (
                f"  k seen before ({n} tokens)",
                timed(lambda: check(at.number_input(key="k").set_value(next(ks2)).run()), 3),
                0.3,
            )
        )
        hs = iter(["head 1", "head 4", "head 7"])
        rows.append(
            (
                f"  change the head ({n} tokens)",
                timed(lambda: check(at.selectbox(key="head").set_value(next(hs)).run()), 3),
                0.3,
            )
        )
        at.selectbox(key="head").set_value("mean of heads").run()
        rows.append(
            (
                f"  switch to Learn and back ({n} tokens)",
                timed(
                    lambda: (
                        check(at.switch_page("lessons/learn.py").run()),
                        check(at.switch_page("lessons/explore.py").run()),
                    ),
                    1,
                )
                / 2,
                0.3,
            )
        )
        at.number_input(key="k").set_value(64).run()

    load1 = os.getloadavg()[0]
    import torch

    print(
        f"app server time (AppTest script runs), load average {load0:.1f} -> {load1:.1f} on {os.cpu_count()} "
        f"cores, {torch.get_num_threads()} torch thread(s)"
    )
    for name, s, budget in rows:
        ok = "" if budget is None else ("ok" if s <= budget else f"OVER {budget} s")
        print(f"{name:<48} {s:7.3f} s  {ok}")
    if a.json:
        pathlib.Path(a.json).write_text(
            json.dumps(
                {
                    "load_avg": [load0, load1],
                    "rows": [{"case": n.strip(), "seconds": s, "budget_s": b} for n, s, b in rows],
                    "threads": torch.get_num_threads(),
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
