"""What the AppTest benchmarks share: the sample text, a median timer, a script run that fails loudly,
and the app loaded into Streamlit's AppTest. Used by family_bench.py and app_bench.py (run them as scripts,
so that this folder is on sys.path)."""

import pathlib
import statistics
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
TEXT = (ROOT / "assets" / "texts" / "contract.txt").read_text()


def timed(fn, repeats=1):
    """Median seconds of `repeats` calls of fn()."""
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def check(at):
    """The AppTest after a script run; raises if the run ended in an exception or showed st.error."""
    if at.exception:
        raise RuntimeError(at.exception[0].value)
    if at.error:
        raise RuntimeError(at.error[0].value)
    return at


def start_app(threads=None, timeout=3600):
    """app.py in an AppTest (not run yet); torch limited to `threads` threads when given."""
    import torch
    from streamlit.testing.v1 import AppTest

    if threads:
        torch.set_num_threads(threads)
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
