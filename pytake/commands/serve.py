"""`pytake serve`: the API (hypercorn) with the WhatsApp webhook.

Without DATABASE_URL / REDIS_URL, embedded PostgreSQL and Redis are started
under PYTAKE_DATA_DIR, the database is migrated, and a Taskiq worker runs in
this process too (`--worker` forces it, `--no-worker` turns it off).
"""

from __future__ import annotations

import argparse
import logging
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    worker = parser.add_mutually_exclusive_group()
    worker.add_argument("--worker", dest="worker", action="store_true", default=None,
                        help="also run a worker in this process (default in embedded mode)")
    worker.add_argument("--no-worker", dest="worker", action="store_false")
    parser.add_argument("--concurrency", type=int, default=100, help="tasks the in-process worker runs at once")
    parser.add_argument("--no-migrate", action="store_true", help="do not migrate a configured database")


def run(args: argparse.Namespace) -> int:
    from api.event_loop import run as run_loop
    from api.runtime.stack import Listen, prepare_settings, run_stack
    from api.settings import Settings, SettingsError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("taskiq.receiver.receiver", "httpx", "httpcore", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"pytake serve: {exc}", file=sys.stderr)
        return 2
    embedded = settings.embedded_database or settings.embedded_redis
    settings = prepare_settings(settings, migrate=not args.no_migrate)
    worker = embedded if args.worker is None else args.worker
    print(f"PyTake API on http://{args.host}:{args.port} (webhook: /webhooks/whatsapp)"
          + (" with an in-process worker" if worker else ""), flush=True)
    run_loop(run_stack(settings, api=Listen(args.host, args.port), worker=worker,
                          worker_concurrency=args.concurrency))
    return 0
