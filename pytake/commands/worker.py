"""`pytake worker`: Taskiq workers running the runtime's tasks.

Each process opens its own database pool, Redis connection and Graph API
client, runs up to ``--concurrency`` tasks at once and its share of the
maintenance chores (timeouts, retries, sweeps). Start as many processes, on
as many machines, as the load needs: conversations are serialised through
Redis, not through a single worker. ``--lanes live`` / ``--lanes bulk`` split
conversations and their replies from campaigns, bulk sends and the chores
(`api.workers.queue.WORKER_LANES`). A bulk worker runs at a lower CPU priority
(``--nice``, default 10): on a machine it shares with the API and live workers,
the kernel runs them first whenever both have work, so a campaign takes the
CPU that replies leave. SIGTERM drains the process: no new task,
the running ones and their sends finish, leases are released, then it exits.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--processes", type=int, default=1, help="worker processes to start")
    parser.add_argument("--concurrency", type=int, default=100, help="tasks per process at once")
    parser.add_argument("--lanes", choices=("all", "live", "bulk"), default="all",
                        help="what the worker takes: every task (default); live: conversations and their replies "
                             "only, no background chores; bulk: campaigns, bulk sends, maintenance and the chores. "
                             "Live and bulk workers apart keep a campaign's work off the replies' processes; a "
                             "deployment needs live tasks and bulk tasks each taken by some worker")
    parser.add_argument("--nice", type=_niceness, default=None, metavar="0-19",
                        help="lower the process's CPU priority by this much (niceness, as nice(1)): default 10 "
                             "for --lanes bulk, so live replies on the same machine get the CPU first; 0 otherwise")


# what `--nice` defaults to per `--lanes`: bulk work yields the CPU to the API and live workers
DEFAULT_NICENESS = {"all": 0, "live": 0, "bulk": 10}


def _niceness(value: str) -> int:
    number = int(value)
    if not 0 <= number <= 19:  # raising priority would need privileges: a worker only ever lowers its own
        raise argparse.ArgumentTypeError("must be between 0 and 19")
    return number


def _work(concurrency: int, lanes: str = "all", nice: int = 0) -> None:
    from api.event_loop import run as run_loop
    from api.log_context import configure_logging
    from api.settings import Settings
    from api.workers.tasks import make_broker, run_worker
    from pytake.hosting.stack import install_signal_handlers

    settings = Settings.from_env()
    configure_logging(settings.log_format, logging.INFO)  # PYTAKE_LOG_FORMAT: text | json
    if settings.embedded_database or settings.embedded_redis:
        from pytake.hosting.stack import prepare_settings

        settings = prepare_settings(settings, migrate=False)
    # after the embedded servers are up: a server this process started must not inherit it
    logging.getLogger("pytake.workers").info("worker process %d at niceness %d", os.getpid(), os.nice(nice))

    async def main() -> None:
        # SIGTERM/SIGINT: graceful (docs/deployment.md): no new task is taken, the running ones
        # finish and release their leases, the sends under way complete, then the process exits
        stop = asyncio.Event()
        install_signal_handlers(stop)
        grace = settings.shutdown_grace_seconds
        task = asyncio.create_task(run_worker(make_broker(settings, lanes=lanes), concurrency=concurrency, stop=stop,
                                              grace_seconds=grace))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        # tasks (grace) then sends (grace), and a margin for closing the pools
        done, _ = await asyncio.wait([task], timeout=2 * grace + 5)
        if not done:
            logging.getLogger("pytake.workers").warning("shutdown took longer than the grace period: cancelling")
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    run_loop(main())


def run(args: argparse.Namespace) -> int:
    from api.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"pytake worker: {exc}", file=sys.stderr)
        return 2
    if settings.embedded_database or settings.embedded_redis:
        print("pytake worker: DATABASE_URL / REDIS_URL not set; using the embedded servers under "
              f"{settings.data_dir}", file=sys.stderr)
    nice = args.nice if args.nice is not None else DEFAULT_NICENESS[args.lanes]  # each process applies it (`_work`)
    taking = {"all": "", "live": ", live lanes only (conversations and their replies)",
              "bulk": ", the bulk lane only (campaigns, bulk sends, maintenance) and the chores"}[args.lanes]
    print(f"PyTake worker: {args.processes} process(es) x {args.concurrency} tasks{taking}, niceness +{nice}",
          flush=True)
    if args.processes <= 1:
        _work(args.concurrency, args.lanes, nice)
        return 0
    from pytake.commands.processes import run_processes

    return run_processes(_work, (args.concurrency, args.lanes, nice), args.processes)
