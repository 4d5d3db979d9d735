"""`pytake serve`'s WebSockets (the agents' live channel) without permessage-deflate.

hypercorn accepts the permessage-deflate extension whenever a client offers it,
and browsers always offer it. For the live channel that costs more than it saves:

- **memory**: each socket keeps a zlib compressor with a 32 KB window and its
  state (about 260 KB measured with wsproto), so 1,000 agents' sockets hold
  about a quarter of a gigabyte per API process;
- **CPU**: every message is compressed once per socket (12.6 against 6.9 us to
  frame a 400-byte event), where without it an event's frame is the same bytes
  for every socket and is built once (`api.live.frames`);
- **gain**: the live channel's messages are small JSON texts, a few a second
  per agent.

The same trade made the Node `ws` server, Socket.IO and Phoenix turn it off by
default. `decline()` makes hypercorn's handshake decline the offer: the socket
then works uncompressed, as RFC 7692 allows (the client's offer is only an
offer). It checks that hypercorn still has the shape this was written
against (hypercorn 0.18 with wsproto) and otherwise leaves it as it is, and
says so in the log: sockets then negotiate compression and the live channel
sends texts instead of shared frames (`api.routes.live.frame_sender`).
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("pytake.stack")

_declined = False


def decline() -> bool:
    """Make hypercorn's WebSocket handshake decline permessage-deflate; False when
    hypercorn's shape is not the expected one (it is then left as it is)."""
    global _declined
    if _declined:
        return True
    try:
        from hypercorn.protocol import ws_stream
        from wsproto.extensions import PerMessageDeflate
    except ImportError:
        ws_stream = None
    if ws_stream is None or getattr(ws_stream, "PerMessageDeflate", None) is not PerMessageDeflate:
        log.warning("hypercorn is not the version pytake.hosting.websocket_deflate expects: WebSockets "
                    "negotiate permessage-deflate (more memory and CPU per live socket)")
        return False

    class Declined(PerMessageDeflate):
        """hypercorn's permessage-deflate, answering every offer with no."""

        def accept(self, offer: Any) -> None:  # the extension is left disabled: wsproto frames plainly
            return None

    ws_stream.PerMessageDeflate = Declined
    _declined = True
    return True
