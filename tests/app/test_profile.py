"""lessons/profile.py: with DSA_APP_PROFILE set, each script run of a session is written as one JSON line
(its seconds, the bytes queued for the browser, the plotly bytes among them, cached references)."""

import json

from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.runtime.scriptrunner import ScriptRunnerEvent as E

from lessons import profile


def test_a_run_is_written_with_its_bytes_and_kind(tmp_path, monkeypatch):
    path = tmp_path / "profile.jsonl"
    monkeypatch.setenv("DSA_APP_PROFILE", str(path))
    chart, text, ref = ForwardMsg(), ForwardMsg(), ForwardMsg()
    chart.delta.new_element.plotly_chart.spec = "x" * 5000
    text.delta.new_element.markdown.body = "hello"
    ref.ref_hash = "abc"
    profile._event("session-1", E.SCRIPT_STARTED, ["fragment-id"])
    for msg in (chart, text, ref):
        profile._sent("session-1", msg)
    profile._event("session-1", E.FRAGMENT_STOPPED_WITH_SUCCESS, None)
    profile._event("session-2", E.SCRIPT_STARTED, None)
    profile._event("session-2", E.SCRIPT_STOPPED_FOR_RERUN, None)
    one, two = [json.loads(x) for x in path.read_text().splitlines()]
    assert one["session"] == "session-" and one["kind"] == "fragment" and one["refs"] == 1
    assert one["bytes"] == chart.ByteSize() + text.ByteSize() + ref.ByteSize()
    assert one["figure_bytes"] == chart.ByteSize() and one["script_s"] >= 0
    assert two["kind"] == "page" and two["end"] == "script_stopped_for_rerun" and two["bytes"] == 0


def test_nothing_is_patched_or_written_without_the_variable(monkeypatch):
    from streamlit.runtime.app_session import AppSession

    monkeypatch.delenv("DSA_APP_PROFILE", raising=False)
    before = AppSession._enqueue_forward_msg
    profile.install()
    profile.figure_drawn(1.0)
    assert AppSession._enqueue_forward_msg is before
