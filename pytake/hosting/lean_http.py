"""hypercorn, minus three costs it pays on every keep-alive request.

A status webhook is a small POST answered with a small JSON body; hypercorn's
HTTP/1.1 handling is most of its CPU (`docs/runtime.md`, "Status webhooks").
Three of hypercorn's per-request costs buy nothing on this path:

- **The keep-alive timer.** hypercorn stops a connection's idle-timeout task
  when a request arrives and starts a new one when the response is done: per
  request two tasks created and cancelled (the timeout's ``wait_for`` wraps the
  wait in a task of its own), a timer armed and disarmed, a lock taken twice
  and a few loop turns (tens of microseconds of CPU). `LeanTCPServer` keeps one
  watcher per connection instead, for the connection's life: a request only
  writes down whether the connection is idle and since when; the watcher,
  woken when the idle period it knows of would end, goes back to sleep if the
  connection was used meanwhile. Same behaviour: a connection idle for
  ``keep_alive_timeout`` is closed; one serving a request (however long) is
  not; at shutdown idle connections close at once and busy ones after their
  response (hypercorn's `_maybe_recycle`).
- **The date header.** hypercorn formats the ``Date`` header (`email.utils`
  style, through ``time.gmtime`` and string formatting) for every response;
  its value changes once a second, so `LeanConfig` formats it once a second.
  The ``Server: hypercorn-h11`` header is not sent (it names the server's
  software and version to anyone asking, and is work for no reader).
- **Two sends per response.** hypercorn writes the response head, then the
  body, then h11's (empty) end of message, each under a lock and followed by a
  drain: two ``send`` system calls, so two TCP segments and on loopback the
  receiver's side of each too. `LeanTCPServer` gathers what is written during
  one turn of the event loop and sends it at the end of that turn (one call):
  the head and a small body leave together. A response of more than
  `CORK_LIMIT` bytes is sent and drained as it goes, as before (back pressure
  from a slow client holds the writer); the connection's close sends whatever
  is gathered first.

`install()` puts `LeanTCPServer` in the place hypercorn's asyncio worker
creates its connections from. It checks that hypercorn still has the shape
this was written against (hypercorn 0.18) and otherwise leaves hypercorn
as it is (and says so in the log): the server then works exactly as before,
only at its own cost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from hypercorn.config import Config

log = logging.getLogger("pytake.stack")

CORK_LIMIT = 64 * 1024  # bytes gathered in one loop turn before they are sent and drained at once


class LeanConfig(Config):
    """hypercorn's `Config`, with the ``Date`` header formatted once a second and no ``Server`` header."""

    include_server_header = False

    def __init__(self) -> None:
        super().__init__()
        self._date_second = -1
        self._date = b""

    def response_headers(self, protocol: str) -> list[tuple[bytes, bytes]]:
        if not self.include_date_header or self.alt_svc_headers or self._quic_addresses:
            return super().response_headers(protocol)
        now = time.time()
        second = int(now)
        if second != self._date_second:
            from wsgiref.handlers import format_date_time

            self._date, self._date_second = format_date_time(now).encode("ascii"), second
        headers = [(b"date", self._date)]
        if self.include_server_header:
            headers.append((b"server", f"hypercorn-{protocol}".encode("ascii")))
        return headers


def _lean_server_class() -> type | None:
    """`LeanTCPServer`, or None when hypercorn is not shaped as it expects."""
    try:
        from ssl import SSLError

        from hypercorn.asyncio import run as hypercorn_run
        from hypercorn.asyncio.tcp_server import MAX_RECV, TCPServer
        from hypercorn.events import Closed, RawData, Updated
    except ImportError:
        return None
    expected = ("protocol_send", "_idle_timeout", "_initiate_server_close", "_close", "_read_data")
    if getattr(hypercorn_run, "TCPServer", None) is not TCPServer or not all(hasattr(TCPServer, n) for n in expected):
        return None

    class LeanTCPServer(TCPServer):  # type: ignore[misc, valid-type]
        """hypercorn's `TCPServer` with one keep-alive watcher per connection (module docstring)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # since when the connection has been idle (loop time); None while it serves a request
            self._idle_since: float | None = self.loop.time()
            self._corked: list[bytes] | None = None  # written this loop turn, not sent yet
            self._corked_size = 0
            self._failed_write: asyncio.Task | None = None

        async def protocol_send(self, event: Any) -> None:
            kind = type(event)
            if kind is Updated:
                self._idle_since = self.loop.time() if event.idle else None
                return
            if kind is RawData:
                data = event.data
                if not data:  # h11's end of a Content-Length body: nothing to send
                    return
                if self._corked is None:
                    self._corked, self._corked_size = [data], len(data)
                    self.loop.call_soon(self._uncork)
                else:
                    self._corked.append(data)
                    self._corked_size += len(data)
                if self._corked_size >= CORK_LIMIT:  # a large response: sent as it goes, with back pressure
                    self._uncork()
                    try:
                        await self.writer.drain()
                    except (ConnectionError, RuntimeError):
                        await self.protocol.handle(Closed())
                return
            self._uncork()  # before the connection closes
            await super().protocol_send(event)

        def _uncork(self) -> None:
            chunks, self._corked = self._corked, None
            if not chunks:
                return
            try:
                self.writer.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))
            except (ConnectionError, RuntimeError):  # as hypercorn: the connection is over
                self._failed_write = asyncio.ensure_future(self.protocol.handle(Closed()))

        async def _close(self) -> None:
            self._uncork()
            await super()._close()

        def busy(self, serving: bool) -> None:
            """A request is being served (``True``) or the connection is idle again."""
            self._idle_since = None if serving else self.loop.time()

        async def _read_data(self) -> None:
            """hypercorn's read loop, with the app's ``raw_post_route`` (if any) in front
            (`pytake.hosting.raw_post`) until a request is not one it answers."""
            from pytake.hosting.raw_post import RawPostFront

            route = getattr(getattr(self.app, "app", None), "raw_post_route", None)
            front = RawPostFront(self, route) if route is not None else None
            reader = self.reader
            while not reader.at_eof():
                try:
                    if self.config.read_timeout is None:
                        data = await reader.read(MAX_RECV)
                    else:
                        data = await asyncio.wait_for(reader.read(MAX_RECV), self.config.read_timeout)
                except (ConnectionError, OSError, asyncio.TimeoutError, TimeoutError, SSLError):
                    break
                if front is not None:
                    if await front.feed(data):
                        continue
                    front = None  # the connection is hypercorn's from here on
                    continue
                await self.protocol.handle(RawData(data))
            await self.protocol.handle(Closed())

        async def _idle_timeout(self) -> None:
            """Started once, when the connection opens (`TCPServer.run`); cancelled when it closes."""
            loop = self.loop
            timeout = self.config.keep_alive_timeout
            terminated = asyncio.ensure_future(self.context.terminated.wait())
            try:
                while True:
                    since = self._idle_since
                    left = timeout if since is None else since + timeout - loop.time()
                    if since is not None and left <= 0:
                        break  # idle for the whole timeout
                    await asyncio.wait((terminated,), timeout=left)
                    if terminated.done():
                        if self._idle_since is None:
                            return  # serving a request: closed after its response (_maybe_recycle)
                        break
            finally:
                terminated.cancel()
            await asyncio.shield(self._initiate_server_close())

    LeanTCPServer.__qualname__ = LeanTCPServer.__name__ = "LeanTCPServer"
    return LeanTCPServer


_installed = False


def install() -> bool:
    """Make hypercorn's asyncio worker serve connections with `LeanTCPServer`; False when hypercorn's
    shape is not the expected one (it is then left as it is)."""
    global _installed
    if _installed:
        return True
    lean = _lean_server_class()
    if lean is None:
        log.warning("hypercorn is not the version pytake.hosting.lean_http expects: its own keep-alive "
                    "timer is used (more CPU per request)")
        return False
    from hypercorn.asyncio import run as hypercorn_run

    hypercorn_run.TCPServer = lean
    _installed = True
    return True
