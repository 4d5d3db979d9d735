"""Child processes for `pytake serve --processes` and `pytake worker --processes`.

The children are started with ``spawn`` (a fresh interpreter each: no state
copied from the parent). They stop with the parent: SIGINT and SIGTERM are
forwarded, and on Linux each child also asks the kernel for a SIGTERM when its
parent dies without forwarding anything (SIGKILL, a crash), so no orphan keeps
serving a port or taking tasks. One child that exits stops the others: a
deployment running half the processes it was asked for is worse than a clear
exit its supervisor can restart.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from multiprocessing.connection import wait
from typing import Any

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _child(target: Callable[..., Any], parent: int, args: tuple) -> None:
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before the request above
        return
    target(*args)


def run_processes(target: Callable[..., Any], args: tuple, count: int, *, with_index: bool = False) -> int:
    """Run ``target(*args)`` (``target(*args, i)`` for child i with ``with_index``)
    in ``count`` child processes until they stop; 0 if every one exited
    cleanly, else 1."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_child, args=(target, os.getpid(), (*args, i) if with_index else args), daemon=False)
             for i in range(count)]
    stopping = False

    def forward(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for p in procs:
            if p.is_alive() and p.pid:
                os.kill(p.pid, signal.SIGTERM)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    for p in procs:
        p.start()
    wait([p.sentinel for p in procs])
    if not stopping:
        forward(signal.SIGTERM, None)
    for p in procs:
        p.join()
    return 0 if all(p.exitcode == 0 for p in procs) else 1
