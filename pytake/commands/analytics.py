"""`pytake analytics backfill --from DATE --to DATE [--period P] [--organization ID]`.

Computes and stores the analytics snapshots of every period overlapping
``[from, to)`` (times without offset are each organization's local time) (docs/analytics.md), replacing those already stored. Uses
DATABASE_URL (or the embedded PostgreSQL, like `pytake db`).
"""

from __future__ import annotations

import argparse
import sys
import uuid
from dataclasses import replace
from datetime import datetime

PERIODS = ("hour", "day", "week", "month")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    fill = sub.add_parser("backfill", help="compute the snapshots of past periods again")
    fill.add_argument("--from", dest="since", required=True,
                      help="ISO 8601 date or datetime (without offset: each organization's local time)")
    fill.add_argument("--to", dest="until", required=True, help="ISO 8601 date or datetime, excluded")
    fill.add_argument("--period", action="append", choices=PERIODS,
                      help="one period kind (repeatable; default: all four)")
    fill.add_argument("--organization", type=uuid.UUID, help="one organization's (default: every active one)")
    fill.add_argument("--database-url", help="overrides DATABASE_URL")


def run(args: argparse.Namespace) -> int:
    from api import embedded
    from api.event_loop import run as run_loop
    from api.settings import Settings, SettingsError, normalize_database_url

    try:
        since, until = datetime.fromisoformat(args.since), datetime.fromisoformat(args.until)
    except ValueError:
        print("pytake analytics: --from and --to must be ISO 8601 dates or datetimes", file=sys.stderr)
        return 2
    if (since.tzinfo is None) != (until.tzinfo is None):
        print("pytake analytics: give --from and --to both with an offset or both without", file=sys.stderr)
        return 2
    if until <= since:
        print("pytake analytics: --to must be after --from", file=sys.stderr)
        return 2
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"pytake analytics: {exc}", file=sys.stderr)
        return 2
    if args.database_url:
        settings = replace(settings, database_url=normalize_database_url(args.database_url))
    try:
        with embedded.servers(settings, redis=False) as (url, _):
            written = run_loop(_backfill(url, since, until, tuple(args.period or PERIODS), args.organization))
    except (OSError, embedded.EmbeddedServerError) as exc:
        print(f"pytake analytics: {exc}", file=sys.stderr)
        return 1
    print(f"{written} snapshot(s) written")
    return 0


async def _backfill(url, since, until, periods, organization) -> int:
    from api.analytics import backfill_snapshots
    from api.db.session import Database

    db = Database(url)
    try:
        return await backfill_snapshots(db, since, until, periods=periods, organization_id=organization)
    finally:
        await db.dispose()
