"""`pytake db upgrade [REV]`, `pytake db downgrade REV`, `pytake db current`.

Uses DATABASE_URL, or the embedded PostgreSQL under PYTAKE_DATA_DIR when it is
not set (started for the command and stopped after, unless another process
still uses it).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--database-url", help="overrides DATABASE_URL")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = sub.add_parser("upgrade", parents=[common], help="migrate up to REV (default: head)")
    up.add_argument("revision", nargs="?", default="head", metavar="REV")
    down = sub.add_parser("downgrade", parents=[common],
                          help="migrate down to REV (e.g. -1, 0001, base)")
    down.add_argument("revision", metavar="REV")
    sub.add_parser("current", parents=[common], help="print the database's revision")


def run(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from alembic.util.exc import CommandError
    from api import embedded
    from api.settings import Settings, SettingsError, normalize_database_url

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"pytake db: {exc}", file=sys.stderr)
        return 2
    if args.database_url:
        settings = replace(settings, database_url=normalize_database_url(args.database_url))
    try:
        with embedded.servers(settings, redis=False) as (url, _):
            assert url
            if settings.embedded_database:
                print(f"pytake db: using the embedded PostgreSQL in {settings.data_dir / 'postgres'}",
                      file=sys.stderr)
            return _act(args, url)
    except (CommandError, SQLAlchemyError, OSError, embedded.EmbeddedServerError) as exc:
        print(f"pytake db: {exc}", file=sys.stderr)
        return 1


def _act(args: argparse.Namespace, url: str) -> int:
    from api.db import migrations

    if args.action == "upgrade":
        migrations.upgrade(url, args.revision, stdout=sys.stdout)
        print(f"database at {', '.join(migrations.current(url)) or 'base'}")
    elif args.action == "downgrade":
        migrations.downgrade(url, args.revision, stdout=sys.stdout)
        print(f"database at {', '.join(migrations.current(url)) or 'base'}")
    else:
        revisions = migrations.current(url)
        head = migrations.head()
        if not revisions:
            print("base (no migrations applied)")
        for rev in revisions:
            print(f"{rev}{' (head)' if rev == head else ''}")
    return 0
