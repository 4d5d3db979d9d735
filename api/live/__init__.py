"""The agents' live channel (docs/live.md): domain events and typing fanned out to
WebSockets across API processes through Redis pub/sub, with presence and resume.

- `publisher`: the ``live`` event consumer (workers) → ``live:org:{id}`` channels;
- `hub`: one API process's sockets and its one pub/sub connection;
- `session`: one socket (replay, then live; typing, status, ping in);
- `presence`: ``ws:user:{id}`` sets, process heartbeats, the sweep of dead processes;
- `audience`: who may see which conversation's events; `replay`: resuming from a cursor;
- `typing_indicator`: agents' typing and WhatsApp's typing indicator; `protocol`: the wire.
"""

from api.live.audience import Viewer, load_viewer
from api.live.hub import Hub
from api.live.presence import sweep as sweep_presence
from api.live.protocol import LIVE_TYPES, CloseCode, Cursor
from api.live.publisher import CONSUMER, publish_once, start as start_publisher
from api.live.session import Closing, Session

__all__ = ["CONSUMER", "LIVE_TYPES", "CloseCode", "Closing", "Cursor", "Hub", "Session", "Viewer", "load_viewer",
           "publish_once", "start_publisher", "sweep_presence"]
