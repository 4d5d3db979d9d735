"""A Redis client whose scripts run twice: what redis-py's retry (and `ResilientCluster`'s)
does when a connection breaks after the server ran the script but before its reply came
back. The caller sees the second run's answer; the server holds the state of both runs."""

from __future__ import annotations

from typing import Any

SCRIPT_COMMANDS = ("EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO")


def scripts_run_twice(client: Any) -> Any:
    """``client`` (a single Redis or a cluster client) with every script sent twice in a row."""
    execute = client.execute_command

    async def twice(*args: Any, **options: Any) -> Any:
        if args and str(args[0]).upper() in SCRIPT_COMMANDS:
            await execute(*args, **options)  # ran on the server; its reply lost
        return await execute(*args, **options)

    client.execute_command = twice
    return client
