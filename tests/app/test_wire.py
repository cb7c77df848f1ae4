"""lessons/wire.py: a browser message holding a lone surrogate (invalid UTF-8) is repaired, not dropped;
valid messages pass untouched. (tests/e2e/test_class_safety.py types one in a real browser.)"""

import asyncio
import threading

import pytest
from google.protobuf.message import DecodeError
from streamlit.proto.BackMsg_pb2 import BackMsg

from lessons import wire


def _message(text):
    m = BackMsg()
    m.rerun_script.query_string = text
    return m.SerializeToString()


def test_a_lone_surrogate_becomes_a_replacement_character():
    bad = _message("aXYZb🙂").replace(b"XYZ", "\ud800".encode("utf-8", "surrogatepass"))  # ED A0 80
    with pytest.raises(DecodeError):
        BackMsg().ParseFromString(bad)  # what Streamlit would do: drop it and close the connection
    m = BackMsg()
    m.ParseFromString(wire.repair(bad))
    assert m.rerun_script.query_string == "a\ufffdb🙂"


def test_valid_messages_are_untouched():
    good = _message("日本語 and 🙂")
    assert wire.repair(good) is good


def _run_on_own_thread(coroutine):
    """asyncio.run on a fresh thread: an earlier test (a Playwright or AppTest session) may have left a
    loop marked as running on this one, and asyncio.run refuses to nest."""
    out = {}
    thread = threading.Thread(target=lambda: out.setdefault("value", asyncio.run(coroutine)))
    thread.start()
    thread.join(timeout=30)
    return out["value"]


def test_install_routes_websocket_reads_through_repair(monkeypatch):
    from starlette.websockets import WebSocket

    bad = _message("XYZ").replace(b"XYZ", "\udfff".encode("utf-8", "surrogatepass"))

    async def fake_receive(self):
        return bad

    monkeypatch.setattr(WebSocket, "receive_bytes", fake_receive)
    wire.install()
    wire.install()  # idempotent: wrapped once
    got = _run_on_own_thread(WebSocket.receive_bytes(None))
    m = BackMsg()
    m.ParseFromString(got)
    assert m.rerun_script.query_string == "\ufffd"
