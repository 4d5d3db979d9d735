"""Automatic assignment of queued conversations to agents (docs: `engine` and `triggers`).

`assign_department` runs one concurrency-safe pass over a department's queue;
`on_events` (the ``assignment`` event consumer), `sweep` (periodic) and
`set_status` (an agent going online/away) decide when passes run; `pull_next` lets an
agent take the next waiting conversation themselves.
"""

from api.assignment.engine import Assignment, assign_department
from api.assignment.metrics import ServiceTimes, service_times
from api.assignment.presence import STATUSES, Presence, set_status
from api.assignment.pull import Pulled, pull_next
from api.assignment.strategies import STRATEGIES
from api.assignment.triggers import CONSUMER, SWEEP_SECONDS, assign_all, on_agent_online, on_events, sweep, tick

__all__ = ["CONSUMER", "STATUSES", "STRATEGIES", "SWEEP_SECONDS", "Assignment", "Presence", "Pulled", "ServiceTimes",
           "assign_all", "assign_department", "on_agent_online", "on_events", "pull_next", "service_times",
           "set_status", "sweep", "tick"]
