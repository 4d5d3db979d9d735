"""The floor of bench/api.py: the smallest ASGI server that answers like the API.

Served by hypercorn on uvloop with the same number of processes as the API, it
answers every request with the body in ``PYTAKE_BENCH_BODY_FILE`` (the real
list page, captured by the bench) and nothing else: no routing, no
authentication, no database. What the same load generator gets from it on the
same cores is what HTTP alone costs there; the API's figures are printed as a
ratio to it.
"""

from __future__ import annotations

import os
from pathlib import Path

_BODY = Path(os.environ["PYTAKE_BENCH_BODY_FILE"]).read_bytes()
_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(_BODY)).encode())]


async def app(scope, receive, send):  # noqa: ANN001 - the ASGI signature
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": _BODY})
