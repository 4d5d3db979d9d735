"""WebSocket frames of the live channel's texts, built once per event.

An event goes to every socket of its audience with the same text, and a
server's frames are not masked (RFC 6455 5.1), so without a per-connection
extension (`pytake.hosting.websocket_deflate`: the server negotiates none) its
frame is the same bytes for all of them: `Hub.route` builds it once and each
socket's writer hands it to the server (`api.routes.live.frame_sender`),
instead of each socket encoding the text into a frame of its own.
"""

from __future__ import annotations

import struct


def text_frame(text: str) -> bytes:
    """A final, unmasked text frame (opcode 1) carrying ``text``."""
    payload = text.encode()
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload


def frame_text(frame: bytes) -> str:
    """The text a `text_frame` carries (for a socket that sends texts, not frames)."""
    n = frame[1] & 0x7F
    return frame[2 if n < 126 else 4 if n == 126 else 10:].decode()
