"""Meta apps: each organization may bring its own, signing its webhooks with its own secret.

An organization's app is identified in its callback URL by the **app key**,
the organization's id (public and never changes):
``/webhooks/whatsapp/<organization id>``. Its secret is
``organizations.whatsapp_app_secret_encrypted`` (`api.crypto`, set write-only
through ``PATCH /organization``), its verify token
``organizations.whatsapp_webhook_verify_token`` (or one of its numbers'
``settings.verify_token``). ``/webhooks/whatsapp`` stays the deployment's
single-tenant default (``PYTAKE_WHATSAPP_APP_SECRET``).

`APPS` keeps app key → (organization, decrypted secret) in the process for
`TTL` seconds, so a webhook costs no database round trip in the steady state.
``PATCH /organization`` forgets the entry in its own process; a signature that
fails against a cached secret older than `RELOAD_AFTER` seconds reloads it
once (a secret rotated through another process is picked up at the next
webhook, and a flood of bad signatures costs at most one query per second per
app).

A payload signed by one organization's app only writes into that
organization: `own_numbers_only` drops the messages and statuses of numbers
that are not the organization's (counted and logged), and statuses are
applied in the organization only (`api.inbound.statuses.apply_statuses`).
"""

from __future__ import annotations

import hmac
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from api.crypto import SecretDecryptionError, decrypt_secret
from api.whatsapp.numbers import NUMBERS
from api.whatsapp.payloads import WebhookBatch
from api.whatsapp.signature import verify

log = logging.getLogger("pytake.whatsapp")

TTL = 30.0
RELOAD_AFTER = 1.0
MAX_CACHED = 10_000

_APP = text("SELECT id, whatsapp_app_secret_encrypted AS secret FROM organizations "
            "WHERE id = :id AND deleted_at IS NULL AND is_active IS NOT FALSE")
_VERIFY_TOKENS = text("""
SELECT whatsapp_webhook_verify_token AS token FROM organizations
 WHERE id = :id AND deleted_at IS NULL AND is_active IS NOT FALSE
UNION ALL
SELECT COALESCE(n.settings->>'verify_token', n.settings->>'webhook_verify_token') FROM whatsapp_numbers n
  JOIN organizations o ON o.id = n.organization_id AND o.deleted_at IS NULL AND o.is_active IS NOT FALSE
 WHERE n.organization_id = :id AND n.deleted_at IS NULL""")


@dataclass(frozen=True)
class MetaApp:
    organization_id: uuid.UUID | None  # None: the deployment's default app
    app_secret: str | None


def organization_of(app_key: str) -> uuid.UUID | None:
    """The organization an app key names, or None for a key that cannot be one."""
    try:
        return uuid.UUID(app_key)
    except ValueError:
        return None


def webhook_path(organization_id: uuid.UUID) -> str:
    """The callback path of an organization's Meta app."""
    return f"/webhooks/whatsapp/{organization_id}"


class AppDirectory:
    """App key → `MetaApp`, cached briefly (see the module doc)."""

    def __init__(self) -> None:
        self._cache: dict[uuid.UUID, tuple[float, MetaApp | None]] = {}

    def forget(self, organization_id: uuid.UUID | None = None) -> None:
        if organization_id is None:
            self._cache.clear()
        else:
            self._cache.pop(organization_id, None)

    async def _load(self, db: Any, settings: Any, organization_id: uuid.UUID) -> MetaApp | None:
        async with db.session() as s:
            row = (await s.execute(_APP, {"id": organization_id})).mappings().first()
        app = None
        if row is not None:
            secret = None
            if row["secret"]:
                try:
                    secret = decrypt_secret(settings, row["secret"])
                except SecretDecryptionError:
                    log.error("the Meta app secret of organization %s cannot be decrypted with the "
                              "configured key: its webhooks are refused", organization_id)
            app = MetaApp(organization_id, secret)
        if len(self._cache) >= MAX_CACHED:
            self._cache.clear()
        self._cache[organization_id] = (time.monotonic(), app)
        return app

    async def signed_by(self, db: Any, settings: Any, app_key: str, body: bytes,
                        signature: str | None) -> MetaApp | None:
        """The app named by ``app_key`` if its secret signed ``body``, else None."""
        organization_id = organization_of(app_key)
        if organization_id is None:
            return None
        hit = self._cache.get(organization_id)
        age = time.monotonic() - hit[0] if hit else TTL
        app = hit[1] if age < TTL else await self._load(db, settings, organization_id)
        if app is not None and verify(app.app_secret, body, signature):
            return app
        if age >= TTL or age < RELOAD_AFTER:
            return None
        app = await self._load(db, settings, organization_id)  # rotated since we cached it?
        return app if app is not None and verify(app.app_secret, body, signature) else None

    async def verify_token_matches(self, db: Any, app_key: str, token: str) -> bool:
        """Meta's subscription check for one app: ``token`` is its verify token."""
        organization_id = organization_of(app_key)
        if organization_id is None or not token:
            return False
        async with db.session() as s:
            known = (await s.execute(_VERIFY_TOKENS, {"id": organization_id})).scalars().all()
        given = token.encode("utf-8")
        return any(hmac.compare_digest(given, t.encode("utf-8")) for t in known if t)


APPS = AppDirectory()


async def own_numbers_only(db: Any, organization_id: uuid.UUID, batch: WebhookBatch) -> tuple[WebhookBatch, int]:
    """``batch`` without the messages and statuses of numbers that are not
    ``organization_id``'s (another organization's, or unknown), and how many
    were dropped. Numbers come from `api.whatsapp.numbers` (the cache the ingest
    uses too): no round trip in the
    steady state."""
    owner: dict[str, uuid.UUID | None] = {}
    missing = set()
    for pnid in batch.phone_number_ids:
        found, info = NUMBERS.cached(pnid)
        if found:
            owner[pnid] = info.organization_id if info else None
        else:
            missing.add(pnid)
    if missing:
        async with db.raw() as conn:
            for pnid in missing:
                info = await NUMBERS.get_raw(conn, pnid)
                owner[pnid] = info.organization_id if info else None
    foreign = {pnid for pnid, org in owner.items() if org != organization_id}
    if not foreign:
        return batch, 0
    kept = WebhookBatch([m for m in batch.messages if m.phone_number_id not in foreign],
                        [s for s in batch.statuses if s.phone_number_id not in foreign])
    skipped = len(batch.messages) + len(batch.statuses) - len(kept.messages) - len(kept.statuses)
    log.warning("webhook of the Meta app of organization %s: skipped %d messages/statuses of numbers "
                "that are not the organization's (phone_number_id %s)",
                organization_id, skipped, ", ".join(sorted(p[:40] for p in foreign)[:5]))
    return kept, skipped
