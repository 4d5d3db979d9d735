"""What the benchmarks read off the machine: CPU time of processes (from /proc)
and a free loopback port. CPU per operation stays meaningful when other load
shares the cores; wall-clock throughput does not."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of one process so far; zeros when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return int(fields[11]) / tick, int(fields[12]) / tick
    except (OSError, IndexError, ValueError):
        return 0.0, 0.0


def _run_seconds(pid: int) -> float:
    """CPU seconds the process's live threads have run, to the nanosecond (schedstat's first
    field); 0.0 where the kernel does not keep it."""
    total = 0
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            pass
    return total / 1e9


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far. /proc/PID/stat counts in clock ticks
    (10 ms), too coarse for a handful of messages, where a process may show 0; the live threads'
    schedstat is exact but misses threads that exited, which stat's ticks count. The larger of
    the two is within a tick of the truth, and exact when no thread exited."""
    return max(sum(cpu_times(pid)), _run_seconds(pid))


def process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(child) for child in (task / "children").read_text().split()]
            except (OSError, ValueError):
                pass
    return pids


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its live children (hypercorn's workers, say)."""
    return sum(cpu_seconds(p) for p in process_tree(pid))


def tree_system_seconds(pid: int) -> float:
    """System CPU seconds (the kernel working for it) of a process and its live children."""
    return sum(cpu_times(p)[1] for p in process_tree(pid))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
