"""`pytake serve`: the API (hypercorn) with the WhatsApp webhook.

Without DATABASE_URL / REDIS_URL, embedded PostgreSQL and Redis are started
under PYTAKE_DATA_DIR, the database is migrated, and a Taskiq worker runs in
this process too (`--worker` forces it, `--no-worker` turns it off).

``--processes N`` serves the port from N processes (one per core is the
usual choice), each with its own socket on the port (SO_REUSEPORT), so the
kernel spreads connections over them (by a hash of each connection's
addresses: near even, not exactly; a process holding more than its share of
active keep-alive connections closes some after their response, see
`pytake.hosting.connection_balance`); the parent starts the embedded
servers and migrates once (`pytake.commands.processes` runs the children).
"""

from __future__ import annotations

import argparse
import logging
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--processes", type=int, default=1,
                        help="API processes serving the port (SO_REUSEPORT); one per core is typical")
    worker = parser.add_mutually_exclusive_group()
    worker.add_argument("--worker", dest="worker", action="store_true", default=None,
                        help="also run a worker in each API process (default in embedded mode)")
    worker.add_argument("--no-worker", dest="worker", action="store_false")
    parser.add_argument("--concurrency", type=int, default=100, help="tasks the in-process worker runs at once")
    parser.add_argument("--no-migrate", action="store_true", help="do not migrate a configured database")


def _configure_logging(log_format: str = "text") -> None:
    from api.log_context import configure_logging

    configure_logging(log_format, logging.INFO)  # PYTAKE_LOG_FORMAT: text | json (docs/runtime.md)


def _serve(settings, host: str, port: int, worker: bool, concurrency: int, reuse_port: bool,  # noqa: ANN001
           loads=None, index: int = 0) -> None:  # noqa: ANN001
    from api.event_loop import run as run_loop
    from pytake.hosting.stack import Listen, run_stack

    if reuse_port:  # a child of --processes: a fresh interpreter
        _configure_logging(settings.log_format)
    listen = Listen(host, port, reuse_port=reuse_port, balance=(loads, index) if loads is not None else None)
    run_loop(run_stack(settings, api=listen, worker=worker, worker_concurrency=concurrency))


def run(args: argparse.Namespace) -> int:
    from pytake.hosting.stack import prepare_settings
    from api.settings import Settings, SettingsError

    if args.processes < 1:
        print("pytake serve: --processes must be at least 1", file=sys.stderr)
        return 2
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"pytake serve: {exc}", file=sys.stderr)
        return 2
    _configure_logging(settings.log_format)
    embedded = settings.embedded_database or settings.embedded_redis
    settings = prepare_settings(settings, migrate=not args.no_migrate)
    worker = embedded if args.worker is None else args.worker
    print(f"PyTake API on http://{args.host}:{args.port} (webhook: /webhooks/whatsapp)"
          + (f", {args.processes} processes" if args.processes > 1 else "")
          + (" with an in-process worker" + ("" if args.processes == 1 else " each") if worker else ""),
          flush=True)
    if args.processes == 1:
        _serve(settings, args.host, args.port, worker, args.concurrency, reuse_port=False)
        return 0
    import multiprocessing

    from pytake.commands.processes import run_processes

    # each child's count of active connections (pytake.hosting.connection_balance)
    loads = multiprocessing.get_context("spawn").Array("i", args.processes, lock=False)
    return run_processes(_serve, (settings, args.host, args.port, worker, args.concurrency, True, loads),
                         args.processes, with_index=True)
