"""Process configuration, read once from the environment.

`Settings.from_env()` is the only place that reads PyTake's environment
variables. A missing ``DATABASE_URL`` / ``REDIS_URL`` means "embedded mode":
`api.embedded` starts private servers under the data dir. Secrets that are
missing in development are generated once and kept under the data dir, so a
restart can still decrypt what it stored and validate the tokens it issued.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

DEFAULT_DATA_DIR = "./.pytake"
PRODUCTION = "production"


class SettingsError(ValueError):
    """The configuration cannot be used (named variable is missing or malformed)."""


@dataclass(frozen=True)
class Settings:
    """Everything the process needs to know about its environment."""

    database_url: str | None = None
    redis_url: str | None = None
    mongodb_url: str | None = None
    data_dir: Path = field(default_factory=lambda: Path(DEFAULT_DATA_DIR).resolve())
    secret_key: str = ""
    encryption_key: str = ""
    environment: str = "development"
    extra: Mapping[str, str] = field(default_factory=dict)
    # API auth and rate limits (API-core); env PYTAKE_<NAME upper-cased>.
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    ratelimit_login_per_minute: int = 10
    ratelimit_signup_per_minute: int = 5
    ratelimit_refresh_per_minute: int = 30
    ratelimit_user_per_minute: int = 600
    # lists of at least this many rows reuse their total for up to this many
    # seconds (api/resources/totals.py); 0 seconds: always count
    list_total_cache_seconds: int = 5
    list_total_cache_min_rows: int = 1000
    # WhatsApp runtime recovery (docs/runtime.md "Recovery"); env PYTAKE_<NAME upper-cased>.
    # A conversation's / sender's Redis lease lives this long unless its holder
    # renews it (every third of it): a dead worker's lease is gone within it.
    runtime_lease_seconds: float = 4.0
    # how often (one worker per period) the sweep looks for stored-but-unprocessed
    # inbound rows and pending outbound rows whose wake-up was lost ...
    runtime_sweep_seconds: float = 2.0
    # ... older than this, on conversations no worker holds
    runtime_stale_seconds: float = 4.0
    # the sweep reads the rows since its last look; this often (and whenever
    # Redis lost its data) it reads every row instead
    runtime_full_sweep_seconds: float = 3600.0
    # Outbound webhooks (docs/events.md); env PYTAKE_<NAME upper-cased>.
    # May deliveries reach loopback / private addresses? (off: the api_call SSRF guard applies)
    webhooks_allow_private_networks: bool = False
    # every retry delay (30 s, 2 m, ... 12 h) times this; tests shrink it
    webhooks_retry_scale: float = 1.0
    # one attempt waits this long for the receiver's answer
    webhooks_timeout_seconds: float = 10.0
    # the delivery loop looks for new events and due retries at least this often
    webhooks_poll_seconds: float = 0.5
    # at most this many requests in flight per worker
    webhooks_concurrency: int = 64

    @property
    def is_production(self) -> bool:
        return self.environment == PRODUCTION

    @property
    def flow_allow_private_networks(self) -> bool:
        """Whether flows (`api_call`) may reach private and loopback addresses
        (``PYTAKE_FLOW_ALLOW_PRIVATE_NETWORKS``)."""
        return (self.extra or {}).get("PYTAKE_FLOW_ALLOW_PRIVATE_NETWORKS", "").lower() in ("1", "true", "yes")

    @property
    def embedded_database(self) -> bool:
        return not self.database_url

    @property
    def embedded_redis(self) -> bool:
        return not self.redis_url

    def with_urls(self, database_url: str, redis_url: str) -> "Settings":
        """A copy pointing at concrete servers (after embedded ones started)."""
        return replace(self, database_url=database_url, redis_url=redis_url)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("PYTAKE_DATA_DIR") or DEFAULT_DATA_DIR).expanduser().resolve()
        environment = (env.get("PYTAKE_ENV") or "development").strip().lower()
        secret_key = env.get("PYTAKE_SECRET_KEY") or ""
        encryption_key = env.get("PYTAKE_ENCRYPTION_KEY") or ""
        if environment == PRODUCTION:
            for name, value in (("PYTAKE_SECRET_KEY", secret_key),
                                ("PYTAKE_ENCRYPTION_KEY", encryption_key)):
                if not value:
                    raise SettingsError(f"{name} must be set when PYTAKE_ENV=production")
        if not secret_key:
            secret_key = _persisted_secret(data_dir / "secret.key", lambda: secrets.token_urlsafe(48))
        if not encryption_key:
            encryption_key = _persisted_secret(data_dir / "encryption.key", _new_fernet_key)
        _check_fernet_key(encryption_key)
        extra = {k: v for k, v in env.items() if k.startswith("PYTAKE_")}
        return cls(
            database_url=normalize_database_url(env.get("DATABASE_URL") or None),
            redis_url=env.get("REDIS_URL") or None,
            mongodb_url=env.get("MONGODB_URL") or None,
            data_dir=data_dir,
            secret_key=secret_key,
            encryption_key=encryption_key,
            environment=environment,
            extra=extra,
            **_api_limits(env),
            **_runtime_timings(env),
            **_webhook_settings(env),
        )


API_LIMIT_FIELDS = (
    "access_token_ttl_seconds", "refresh_token_ttl_seconds", "ratelimit_login_per_minute",
    "ratelimit_signup_per_minute", "ratelimit_refresh_per_minute", "ratelimit_user_per_minute",
    "list_total_cache_seconds", "list_total_cache_min_rows",
)


def _api_limits(env: Mapping[str, str]) -> dict[str, int]:
    """Integer API settings present in the environment (``PYTAKE_RATELIMIT_LOGIN_PER_MINUTE``...)."""
    values: dict[str, int] = {}
    for name in API_LIMIT_FIELDS:
        raw = env.get("PYTAKE_" + name.upper())
        if raw is None or raw == "":
            continue
        try:
            values[name] = int(raw)
        except ValueError as exc:
            raise SettingsError(f"PYTAKE_{name.upper()} must be an integer") from exc
    return values


RUNTIME_TIMING_FIELDS = (
    "runtime_lease_seconds", "runtime_sweep_seconds", "runtime_stale_seconds", "runtime_full_sweep_seconds",
)


def _positive_numbers(env: Mapping[str, str], fields: Mapping[str, type], unit: str) -> dict[str, Any]:
    """The fields present in the environment (``PYTAKE_<NAME>``), each a positive ``float`` or ``int``."""
    values: dict[str, Any] = {}
    for name, kind in fields.items():
        raw = env.get("PYTAKE_" + name.upper())
        if raw is None or raw == "":
            continue
        try:
            values[name] = kind(raw)
        except ValueError as exc:
            raise SettingsError(f"PYTAKE_{name.upper()} must be a {unit}") from exc
        if not values[name] > 0:
            raise SettingsError(f"PYTAKE_{name.upper()} must be a positive {unit}")
    return values


def _runtime_timings(env: Mapping[str, str]) -> dict[str, float]:
    """Positive numbers of seconds (``PYTAKE_RUNTIME_LEASE_SECONDS=4``...)."""
    return _positive_numbers(env, dict.fromkeys(RUNTIME_TIMING_FIELDS, float), "number of seconds")


WEBHOOK_NUMBER_FIELDS = {"webhooks_retry_scale": float, "webhooks_timeout_seconds": float,
                         "webhooks_poll_seconds": float, "webhooks_concurrency": int}


def _webhook_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """``PYTAKE_WEBHOOKS_*``: whether private networks are allowed, and positive numbers."""
    values = _positive_numbers(env, WEBHOOK_NUMBER_FIELDS, "number")
    flag = env.get("PYTAKE_WEBHOOKS_ALLOW_PRIVATE_NETWORKS", "")
    if flag:
        values["webhooks_allow_private_networks"] = flag.strip().lower() in ("1", "true", "yes")
    return values


def normalize_database_url(url: str | None) -> str | None:
    """Accept the usual ``postgres://`` / ``postgresql://`` spellings; use asyncpg."""
    if not url:
        return None
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    return url


def _new_fernet_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def _check_fernet_key(key: str) -> None:
    try:
        raw = base64.urlsafe_b64decode(key.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise SettingsError("PYTAKE_ENCRYPTION_KEY is not a Fernet key (url-safe base64)") from exc
    if len(raw) != 32:
        raise SettingsError("PYTAKE_ENCRYPTION_KEY is not a Fernet key (must decode to 32 bytes)")


def _persisted_secret(path: Path, make) -> str:
    """Read a generated secret from ``path``, creating it (mode 0600) the first time."""
    try:
        return path.read_text("ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its value
        return path.read_text("ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(value + "\n")
    return value
