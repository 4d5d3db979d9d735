"""`Runtime`: the connections and clients the runtime's tasks share in one process.

A worker builds one at startup (`Runtime.open`) and closes it at shutdown;
tests build one on their fixtures' database and redis (`Runtime.build`).
Everything it holds is built from `Settings`; how a conversation's fresh
outbox is sent (`Delivery`) is passed in when it is built: a worker sends
from its own process in the background (`api.outbox.BackgroundDelivery`),
anything else leaves it out and the processor queues a sender task.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import redis.asyncio as aioredis

from api.db.session import Database
from api.redis_clients import redis_client
from api.settings import Settings
from api.whatsapp.config import WhatsAppConfig
from api.whatsapp.graph_client import GraphClient
from engine.ports import AIClient, HttpClient
from engine.program import Program


@dataclass(frozen=True)
class SendHint:
    """What the processor knows of a conversation it just gave ``rows`` outbound
    rows: the sender takes its lease and the rate-limit sends in one round trip."""

    phone_number_id: str
    wa_id: str
    number_settings: dict
    rows: int


class ClosingHttpClient(HttpClient, Protocol):
    """The engine's HTTP port, with the connections it keeps open."""

    async def aclose(self) -> None: ...


class ClosingAIClient(AIClient, Protocol):
    """The engine's AI port, with the connections it keeps open."""

    async def aclose(self) -> None: ...


class Delivery(Protocol):
    """How the processor hands over what it just wrote (both return at once)."""

    async def reserve(self, conversation_id: uuid.UUID, hint: SendHint) -> Any:
        """The sender's lease and sends for a step about to be written (None: another sender
        holds the lease); handed back to `deliver` as ``reserved`` (or released)."""

    def deliver(self, conversation_id: uuid.UUID, hint: SendHint | None = None, reserved: Any = None) -> None:
        """Send a conversation's fresh outbox rows (``reserved``: what `reserve` took for them)."""

    def mark_read(self, phone_number_id: str, access_token_encrypted: str | None, wamid: str) -> None:
        """Send Meta's read receipt for an inbound message."""


DeliveryFactory = Callable[["Runtime"], Delivery]
"""Builds the `Delivery` of a runtime (it may need the runtime's clients)."""


@dataclass
class Runtime:
    db: Database
    redis: aioredis.Redis
    settings: Settings
    whatsapp: WhatsAppConfig
    graph: GraphClient
    http: ClosingHttpClient  # api_call nodes (SSRF-guarded)
    ai: ClosingAIClient | None = None  # ai_prompt nodes, built on first use
    # a worker's in-process sending; None: the processor queues a sender task
    delivery: Delivery | None = None
    programs: dict[str, Program] = field(default_factory=dict)  # program hash -> Program
    # (org, number, chatbot) -> (monotonic time, chatbot, flows)
    chatbots: dict[tuple, tuple] = field(default_factory=dict)
    # (organization, chatbot id, flow ref) -> (at, hash): a flow's name is only unique within its chatbot
    current_versions: dict[tuple, tuple[float, str]] = field(default_factory=dict)
    node_ids: dict[tuple, uuid.UUID | None] = field(default_factory=dict)  # (flow id, canvas node id) -> nodes.id
    owns: bool = False
    # the step's path counts' own Redis connection (api.analytics.PathCounter), opened on first use
    path_counter: Any = None
    counters: Any = None  # the process's metrics (api.metrics.Counters), made on first use
    # chatbot settings, flow lists and "current version" lookups are reused this long:
    # a saved change reaches new conversations within it
    cache_ttl: float = 3.0

    @property
    def deliver(self) -> Callable[..., None] | None:
        """``rt.deliver(conversation_id, hint)`` in a worker, else None."""
        return self.delivery.deliver if self.delivery is not None else None

    @property
    def mark_read(self) -> Callable[[str, str | None, str], None] | None:
        """``rt.mark_read(phone_number_id, token, wamid)`` in a worker, else None (sent inline)."""
        return self.delivery.mark_read if self.delivery is not None else None

    @classmethod
    def build(cls, db: Database, redis: aioredis.Redis, settings: Settings,
              whatsapp: WhatsAppConfig | None = None, graph: GraphClient | None = None,
              delivery: DeliveryFactory | None = None) -> "Runtime":
        from engine.adapters.http import GuardedHttpClient

        whatsapp = whatsapp or WhatsAppConfig.from_settings(settings)
        runtime = cls(
            db=db, redis=redis, settings=settings, whatsapp=whatsapp,
            graph=graph or GraphClient(whatsapp.graph_url, whatsapp.graph_version,
                                       connections=settings.graph_connections),
            http=GuardedHttpClient(allow_private_networks=settings.flow_allow_private_networks),
        )
        if delivery is not None:
            runtime.delivery = delivery(runtime)
        return runtime

    @classmethod
    def open(cls, settings: Settings, delivery: DeliveryFactory | None = None) -> "Runtime":
        """A runtime with its own database pool and redis client (closed by `close`)."""
        if not settings.database_url or not settings.redis_url:
            raise RuntimeError("the runtime needs DATABASE_URL and REDIS_URL")
        db = Database(settings.database_url, pool_size=settings.db_pool_size, max_overflow=10,
                      pool_pre_ping=False)
        # a blocking pool: a burst of tasks waits for a connection instead of failing;
        # commands survive a Redis restart (api/redis_clients.py)
        redis = redis_client(settings.redis_url, max_connections=settings.redis_pool_size,
                             wait_timeout=30, decode_responses=True)
        runtime = cls.build(db, redis, settings, delivery=delivery)
        runtime.owns = True
        return runtime

    async def close(self) -> None:
        await self.graph.aclose()
        await self.http.aclose()
        if self.ai is not None:
            await self.ai.aclose()
        if self.path_counter is not None:
            await self.path_counter.aclose()
        if self.counters is not None:
            await self.counters.aclose()
        if self.owns:
            await self.redis.aclose()
            await self.db.dispose()
