"""Run PyTake's processes inside one event loop: API, worker, sandbox.

`pytake serve` runs the API (plus, in embedded mode, a worker); `pytake demo`
runs all three. Everything stops cleanly when ``stop`` is set (Ctrl-C).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from dataclasses import dataclass
from typing import Any

from api.settings import Settings

log = logging.getLogger("pytake.stack")


@dataclass
class Listen:
    host: str = "127.0.0.1"
    port: int = 8000
    # Several processes serving one port each bind their own socket with
    # SO_REUSEPORT, and the kernel spreads new connections over them. With one
    # shared socket (hypercorn --workers) whichever process wakes first accepts
    # a whole burst of connections: one process took nearly all of the
    # benchmark's 50 keep-alive clients.
    reuse_port: bool = False
    # (array shared by the processes, this process's slot): keep-alive
    # connections evened out over them (pytake.hosting.connection_balance)
    balance: tuple[Any, int] | None = None


def prepare_settings(settings: Settings, *, migrate: bool = True) -> Settings:
    """Start embedded servers for missing URLs and migrate the database (blocking)."""
    from api import embedded

    if settings.embedded_database or settings.embedded_redis:
        database_url, redis_url = embedded.ensure_servers_sync(settings)
        settings = settings.with_urls(database_url, redis_url)  # type: ignore[arg-type]
        migrate = True
    if migrate:
        from api.db import migrations

        migrations.upgrade(settings.database_url)  # type: ignore[arg-type]
    return settings


def build_app(settings: Settings) -> Any:
    from api.app import create_app

    return create_app(settings)


async def _serve(app: Any, listen: Listen, stop: asyncio.Event, grace_seconds: float = 3.0) -> None:
    from hypercorn.asyncio import serve

    from pytake.hosting.lean_http import LeanConfig, install
    from pytake.hosting.websocket_deflate import decline

    install()  # hypercorn's keep-alive timer without two tasks per request (pytake/hosting/lean_http.py)
    decline()  # live sockets uncompressed: one frame per event for all (pytake/hosting/websocket_deflate.py)
    config = LeanConfig()  # the Date header formatted once a second, no Server header
    config.bind = [_reuse_port_bind(listen) if listen.reuse_port else f"{listen.host}:{listen.port}"]
    config.accesslog = None
    # hypercorn's errors through the root logger (its format, text or JSON), not a handler of its own
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = grace_seconds  # in-flight requests may finish, for at most this long
    config.keep_alive_timeout = 75.0  # longer than clients' idle pools, so reused connections are not cut
    # hypercorn's default accept queue holds 100 connections: a burst of new
    # webhook connections beyond that loses SYNs, and each lost one waits 1, 3,
    # 7... s for the client's retransmit (2,000 customers at once timed out
    # after 30 s). The kernel caps it at net.core.somaxconn.
    config.backlog = 2048
    await serve(app, config, shutdown_trigger=stop.wait)


def _reuse_port_bind(listen: Listen) -> str:
    """A socket of this process's own on a port other processes bind too, as
    hypercorn's ``fd://`` bind (hypercorn then owns and closes it)."""
    family = socket.AF_INET6 if ":" in listen.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((listen.host, listen.port))
    except BaseException:
        sock.close()
        raise
    return f"fd://{sock.detach()}"


async def _drain_api(app: Any, stop: asyncio.Event, api_stop: asyncio.Event, delay: float) -> None:
    from api.app import start_draining

    try:
        await stop.wait()
        start_draining(app)
        log.info("draining: /ready answers 503; the API stops accepting in %.1f s", delay)
        if delay > 0:
            await asyncio.sleep(delay)
    finally:
        api_stop.set()


def install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
            pass


async def run_stack(settings: Settings, *, api: Listen | None, worker: bool, sandbox: Listen | None = None,
                    sandbox_app: Any = None, worker_concurrency: int = 100,
                    stop: asyncio.Event | None = None, ready: Any = None) -> None:
    """Serve until ``stop`` is set (or SIGINT/SIGTERM)."""
    from api.gc_tuning import freeze_startup_heap
    from api.workers.tasks import make_broker, run_worker, start_context, stop_context

    stop = stop or asyncio.Event()
    install_signal_handlers(stop)
    tasks: list[asyncio.Task] = []
    helpers: list[asyncio.Task] = []  # not servers: their end is not a failure
    if sandbox is not None and sandbox_app is not None:
        tasks.append(asyncio.create_task(_serve(sandbox_app, sandbox, stop), name="sandbox"))
    if api is not None:
        app = quart_app = build_app(settings)
        if api.balance is not None:
            from pytake.hosting.connection_balance import ConnectionBalancer, balanced

            app = balanced(app, ConnectionBalancer(*api.balance))
        # SIGTERM: /ready says 503 at once; the server keeps serving for the delay (load balancers
        # take the process out), then stops accepting and lets in-flight requests finish
        api_stop = asyncio.Event()
        helpers.append(asyncio.create_task(_drain_api(quart_app, stop, api_stop, settings.shutdown_delay_seconds),
                                           name="api drain"))
        tasks.append(asyncio.create_task(_serve(app, api, api_stop, settings.shutdown_grace_seconds), name="api"))
    worker_task = worker_broker = None
    if worker:
        await start_context(settings)
        worker_broker = make_broker(settings, open_runtime=False)
        worker_task = asyncio.create_task(
            run_worker(worker_broker, concurrency=worker_concurrency, grace_seconds=settings.shutdown_grace_seconds),
            name="worker")
    freeze_startup_heap()
    if ready is not None:
        ready()
    failed: asyncio.Task | None = None
    stopped = asyncio.create_task(stop.wait())
    try:
        # A server or the worker ending on its own (the port taken, say) stops
        # the rest: a process serving half of what it was asked to is worse
        # than a clear exit.
        done, _ = await asyncio.wait([stopped, *tasks, *([worker_task] if worker_task else [])],
                                     return_when=asyncio.FIRST_COMPLETED)
        failed = next((t for t in done if t is not stopped), None)
    finally:
        stopped.cancel()
        if worker_task is not None:
            # graceful: no new task, the running ones finish (bounded), then the context drains its sends
            if worker_broker is not None:
                worker_broker.stop_taking()
            await asyncio.wait([worker_task], timeout=settings.shutdown_grace_seconds)
            worker_task.cancel()
            await asyncio.gather(worker_task, return_exceptions=True)
            await stop_context()
        stop.set()
        await asyncio.gather(*helpers, *tasks, return_exceptions=True)
        if sandbox_app is not None:
            await sandbox_app.aclose()
    if failed is not None:
        error = None if failed.cancelled() else failed.exception()
        raise SystemExit(f"pytake: the {failed.get_name()} stopped: {error or 'without an error'}")
