"""The agent's greeting (``agent_greetings``), rendered for one conversation.

Variables (SCHEMA.md): ``{{agent_name}}``, ``{{agent_department}}``,
``{{contact_name}}``, ``{{time}}`` (HH:MM) and ``{{day}}`` (weekday name), the
clock read in the department's business-hours time zone (UTC without one).
An unknown ``{{name}}`` is left as written; nothing is evaluated.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Mapping

from api.zones import zone_or_utc

_VARIABLE = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def local_time(business_hours: Mapping[str, Any] | None, now: datetime) -> datetime:
    return now.astimezone(zone_or_utc((business_hours or {}).get("timezone"), "department business_hours.timezone"))


def render(template: str, *, agent_name: str | None, department: str | None, contact_name: str | None,
           local_now: datetime) -> str:
    values = {"agent_name": agent_name or "", "agent_department": department or "",
              "contact_name": contact_name or "", "time": local_now.strftime("%H:%M"),
              "day": _DAYS[local_now.weekday()]}
    return _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), template).strip()
