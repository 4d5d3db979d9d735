"""`BackgroundDelivery`: a worker's `Delivery` (api/runtime_context.py).

In a worker, the processor hands a conversation's fresh outbox to this
process's `Sender` in a background task instead of queueing a sender task:
no queue round trip on the hot path. If the worker dies first, the
maintenance sweep finds the pending rows.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any, Coroutine

from api.outbox.sender import Reservation, Sender, SendHint
from api.runtime_context import Runtime

log = logging.getLogger("pytake.outbox")


class BackgroundDelivery:
    """Sends from this process in background tasks (`Runtime.build(..., delivery=BackgroundDelivery)`)."""

    def __init__(self, runtime: Runtime) -> None:
        self.sender = Sender(runtime)
        self.tasks: set[asyncio.Task] = set()

    async def reserve(self, conversation_id: uuid.UUID, hint: SendHint) -> Reservation | None:
        """The sender lease and sends for a step about to be written (`Sender.reserve`)."""
        return await self.sender.reserve(conversation_id, hint)

    def deliver(self, conversation_id: uuid.UUID, hint: SendHint | None = None,
                reserved: Reservation | None = None) -> None:
        """Send a conversation's fresh outbox rows, in the background."""
        self._spawn(self._deliver(conversation_id, hint, reserved))

    def mark_read(self, phone_number_id: str, access_token_encrypted: str | None, wamid: str) -> None:
        """Send a read receipt in the background (best effort: a lost one is cosmetic)."""
        self._spawn(self.sender.mark_read(phone_number_id, access_token_encrypted, wamid))

    async def drain(self, timeout: float) -> None:
        """Wait (up to ``timeout`` seconds) for the sends under way."""
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=timeout)

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _deliver(self, conversation_id: uuid.UUID, hint: SendHint | None,
                       reserved: Reservation | None) -> None:
        try:
            await self.sender.deliver_conversation(conversation_id, hint, reserved)
        except Exception:  # noqa: BLE001 - the sweep retries pending rows
            log.exception("delivery of conversation %s failed", conversation_id)
