"""A guard on the browser-to-server messages: a lone UTF-16 surrogate in a text box must not freeze the page.

A browser string may hold half of a surrogate pair (a broken copy of an emoji, or JavaScript that
builds one). Streamlit's frontend encodes it as the three bytes ED A0..BF 80..BF, which are not valid
UTF-8, so the server rejects the whole message ("Error deserializing back message ... bad UTF-8") and
closes the connection; the page then ignores every action until it is reloaded. This guard repairs
such a message before Streamlit reads it: each of those three-byte sequences becomes U+FFFD (EF BF BD,
also three bytes, so every protobuf length stays right). Only messages that fail to parse are touched.
The app then says the text held invalid Unicode that was repaired (lessons/state.py: analyse).
"""

import logging
import re

from google.protobuf.message import DecodeError
from starlette.websockets import WebSocket
from streamlit.proto.BackMsg_pb2 import BackMsg

SURROGATE = re.compile(rb"\xed[\xa0-\xbf][\x80-\xbf]")  # U+D800..U+DFFF encoded as if it were a character
REPLACEMENT = "\ufffd".encode()
log = logging.getLogger("dsa_app")


def repair(data):
    """data with every encoded lone surrogate replaced by U+FFFD, if it does not parse as a BackMsg."""
    if not SURROGATE.search(data):
        return data
    try:
        BackMsg().ParseFromString(data)
        return data
    except DecodeError:
        log.warning("repaired a browser message holding invalid Unicode (lone surrogates)")
        return SURROGATE.sub(REPLACEMENT, data)


def install():
    """Route the server's websocket reads through repair() (once per process; idempotent)."""
    if getattr(WebSocket.receive_bytes, "repairs_surrogates", False):
        return
    original = WebSocket.receive_bytes

    async def receive_bytes(self):
        return repair(await original(self))

    receive_bytes.repairs_surrogates = True
    WebSocket.receive_bytes = receive_bytes
