"""Who a WhatsApp user is to the Cloud API: a phone number (``wa_id``) or a
business-scoped user id (BSUID).

A user who adopts a WhatsApp username may hide their phone number: webhooks
then carry only the BSUID (``messages[].from_user_id``, ``contacts[].user_id``,
``statuses[].recipient_user_id``), and a send addresses them with the request's
``recipient`` field instead of ``to`` (``to`` wins when both are present).
A BSUID is a two-letter ISO country code, a period and up to 128 alphanumerics
(``BR.1502576394655843``); a parent BSUID has ``ENT`` in between
(``US.ENT.11815799212886844830``). A phone ``wa_id`` is digits only, so the
two never collide in one column (``contacts.whatsapp_id`` holds the BSUID of a
contact whose number is not known: docs/SCHEMA.md).
"""

from __future__ import annotations

import re
from typing import Any

BSUID = re.compile(r"^[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}$")


def is_bsuid(value: Any) -> bool:
    return isinstance(value, str) and BSUID.match(value) is not None


def address(to: str) -> dict[str, str]:
    """The send request's addressing field for ``to``: ``recipient`` for a BSUID, else ``to``."""
    return {"recipient": to} if is_bsuid(to) else {"to": to}
