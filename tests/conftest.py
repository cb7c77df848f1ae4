"""Suite-wide set-up and hooks.

Threads: scripts/test.sh runs the suite on pytest-xdist workers. Each worker, and every process it
starts (notebook kernels, app servers, scripts), would otherwise run torch with one thread per core,
so two workers on two cores ask for four and their OpenMP threads wait on each other. Each worker gets
its share of the cores instead (unless OMP_NUM_THREADS is already set); a run without workers is left
as it is.

Reports: xdist sends every test report to the main process as UTF-8: a report holding half of a
surrogate pair (the app's lone-surrogate test types one; a failure message may quote it) could not be
sent and would stop the whole run. Such characters are written as escapes (\\ud83d) in the report
instead."""

import os

import pytest

WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if WORKERS > 1 and "OMP_NUM_THREADS" not in os.environ:
    THREADS = max(1, len(os.sched_getaffinity(0)) // WORKERS)
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(THREADS)  # read by child processes
    import torch

    torch.set_num_threads(THREADS)  # this worker (torch may have been imported before this file)


def _escaped(text):
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    try:
        (str(report.longrepr or "") + "".join(c for _, c in report.sections)).encode("utf-8")
    except UnicodeEncodeError:
        report.longrepr = _escaped(str(report.longrepr)) if report.longrepr else report.longrepr
        report.sections = [(name, _escaped(content)) for name, content in report.sections]
