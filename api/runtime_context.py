"""`Runtime`: the connections and clients the runtime's tasks share in one process.

A worker builds one at startup (`Runtime.open`) and closes it at shutdown;
tests build one on their fixtures' database and redis.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from api.db.session import Database
from api.redis_clients import redis_client
from api.settings import Settings
from api.whatsapp.config import WhatsAppConfig
from api.whatsapp.graph_client import GraphClient


@dataclass
class Runtime:
    db: Database
    redis: aioredis.Redis
    settings: Settings
    whatsapp: WhatsAppConfig
    graph: GraphClient
    http: Any = None  # engine HttpClient for api_call nodes
    ai: Any = None  # engine AIClient, built on first use
    programs: dict = field(default_factory=dict)  # program hash -> Program
    chatbots: dict = field(default_factory=dict)  # (org, number, chatbot) -> (at, chatbot, flows)
    current_versions: dict = field(default_factory=dict)  # flow ref -> (at, hash)
    node_ids: dict = field(default_factory=dict)  # (flow id, canvas node id) -> nodes.id
    owns: bool = False
    # in a worker: deliver a conversation's outbox in-process (else a sender task is queued)
    deliver: Any = None
    # in a worker: send a read receipt in the background (else it is sent inline)
    mark_read: Any = None
    # chatbot settings, flow lists and "current version" lookups are reused this long:
    # a saved change reaches new conversations within it
    cache_ttl: float = 3.0

    @classmethod
    def build(cls, db: Database, redis: aioredis.Redis, settings: Settings,
              whatsapp: WhatsAppConfig | None = None, graph: GraphClient | None = None) -> "Runtime":
        from engine.adapters.http import GuardedHttpClient

        whatsapp = whatsapp or WhatsAppConfig.from_settings(settings)
        return cls(
            db=db, redis=redis, settings=settings, whatsapp=whatsapp,
            graph=graph or GraphClient(whatsapp.graph_url, whatsapp.graph_version),
            http=GuardedHttpClient(allow_private_networks=settings.flow_allow_private_networks),
        )

    @classmethod
    def open(cls, settings: Settings) -> "Runtime":
        if not settings.database_url or not settings.redis_url:
            raise RuntimeError("the runtime needs DATABASE_URL and REDIS_URL")
        db = Database(settings.database_url, pool_size=int(os.environ.get("PYTAKE_DB_POOL", "10")),
                      max_overflow=10, pool_pre_ping=False)
        # a blocking pool: a burst of tasks waits for a connection instead of failing;
        # commands survive a Redis restart (api/redis_clients.py)
        redis = redis_client(settings.redis_url, max_connections=int(os.environ.get("PYTAKE_REDIS_POOL", "200")),
                             wait_timeout=30, decode_responses=True)
        runtime = cls.build(db, redis, settings)
        runtime.owns = True
        return runtime

    async def close(self) -> None:
        await self.graph.aclose()
        if self.http is not None:
            await self.http.aclose()
        if self.ai is not None:
            await self.ai.aclose()
        if self.owns:
            await self.redis.aclose()
            await self.db.dispose()
