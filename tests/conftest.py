"""Suite-wide hooks. scripts/test.sh runs the suite on two pytest-xdist workers, which send every test
report to the main process as UTF-8: a report holding half of a surrogate pair (the app's lone-surrogate
test types one; a failure message may quote it) could not be sent and would stop the whole run. Such
characters are written as escapes (\\ud83d) in the report instead."""

import pytest


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
