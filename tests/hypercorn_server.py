"""An ASGI app served by hypercorn (the server `pytake serve` runs) on a free loopback port, for tests."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from bench.proc_stats import free_port


@asynccontextmanager
async def hypercorn_serving(app: Any, config: Any = None) -> AsyncIterator[int]:
    """Serve ``app`` (with ``config``, a hypercorn ``Config``: a default one if None); yields
    the port once it accepts connections, stops the server after."""
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    port = free_port()
    config = config or Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = config.errorlog = None
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))
    try:
        for _ in range(3000):  # up to a minute: a loaded machine starts a server slowly
            if task.done():
                task.result()  # it failed to start: its error
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.02)
        else:
            raise AssertionError(f"hypercorn never listened on port {port}")
        yield port
    finally:
        stop.set()
        await task
