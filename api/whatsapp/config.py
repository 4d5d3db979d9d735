"""WhatsApp channel configuration, read from the process settings.

Variables (all optional; see docs/runtime.md):

- ``PYTAKE_WHATSAPP_APP_SECRET``: the secret of the deployment's default Meta
  app, which signs the webhooks of ``/webhooks/whatsapp`` (an organization's
  own app has its own secret and path: `api.whatsapp.apps`).
- ``PYTAKE_WHATSAPP_VERIFY_TOKEN``: default webhook verify token (numbers and
  organizations can carry their own).
- ``PYTAKE_GRAPH_API_URL`` (default ``https://graph.facebook.com``) and
  ``PYTAKE_GRAPH_API_VERSION`` (default ``v27.0``): where outbound messages go;
  the sandbox sets the URL to itself.
- ``PYTAKE_WHATSAPP_RATE_LIMIT``: default messages/second per number (80).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:  # pragma: no cover
    from api.settings import Settings

DEFAULT_GRAPH_URL = "https://graph.facebook.com"
# The newest Graph API version (introduced Nov 4, 2026; Meta's Graph API changelog);
# v21.0, the previous default, is available only until Jan 21, 2027.
DEFAULT_GRAPH_VERSION = "v27.0"
DEFAULT_RATE_PER_SECOND = 80.0


@dataclass(frozen=True)
class WhatsAppConfig:
    app_secret: str | None = None
    verify_token: str | None = None
    graph_url: str = DEFAULT_GRAPH_URL
    graph_version: str = DEFAULT_GRAPH_VERSION
    rate_per_second: float = DEFAULT_RATE_PER_SECOND

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> "WhatsAppConfig":
        rate = env.get("PYTAKE_WHATSAPP_RATE_LIMIT")
        return cls(
            app_secret=env.get("PYTAKE_WHATSAPP_APP_SECRET") or None,
            verify_token=env.get("PYTAKE_WHATSAPP_VERIFY_TOKEN") or None,
            graph_url=(env.get("PYTAKE_GRAPH_API_URL") or DEFAULT_GRAPH_URL).rstrip("/"),
            graph_version=env.get("PYTAKE_GRAPH_API_VERSION") or DEFAULT_GRAPH_VERSION,
            rate_per_second=float(rate) if rate else DEFAULT_RATE_PER_SECOND,
        )

    @classmethod
    def from_settings(cls, settings: "Settings") -> "WhatsAppConfig":
        return cls.from_mapping(dict(settings.extra or {}))
