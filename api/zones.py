"""Time zones read from stored settings, with the one fallback the runtime uses.

Organization settings (``timezone``) and business hours (``timezone``) are
checked when written (`api.schemas.common.Timezone`): an unknown zone is a 422.
A row written before that check, or by hand in the database, may still hold
one. The runtime then works in UTC rather than fail every message, campaign
or report; `zone_or_utc` does so in one place and says it in the log, once per
process for each (setting, name), so an operator learns why the hours or the
schedule are off instead of finding out from customers.
"""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger("pytake.settings")

UTC_ZONE = ZoneInfo("UTC")
_warned: set[tuple[str, str]] = set()


def zone_or_utc(name: Any, setting: str) -> ZoneInfo:
    """The zone ``name`` (IANA, e.g. "America/Sao_Paulo"); empty or missing → UTC; unknown
    → UTC with a warning naming ``setting`` (where it was read, e.g. "organization settings.timezone")."""
    if not name:
        return UTC_ZONE
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        key = (setting, str(name)[:100])
        if key not in _warned:
            _warned.add(key)
            log.warning("unknown time zone %r in %s: UTC is used instead (set a valid IANA zone, "
                        "e.g. \"America/Sao_Paulo\")", key[1], setting)
        return UTC_ZONE
