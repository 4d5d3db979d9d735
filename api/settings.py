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
import re
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping

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
    # graceful shutdown (SIGTERM, docs/deployment.md): API processes answer 503 on /ready
    # for shutdown_delay_seconds while still serving (load balancers take them out), then
    # stop accepting and finish in-flight requests; workers take no new task and finish
    # the running ones and their sends, each phase for at most shutdown_grace_seconds
    shutdown_delay_seconds: float = 0.0
    shutdown_grace_seconds: float = 20.0
    # a streaming replica for read-only routes (api/db/replica.py); unset: every read on the primary
    database_replica_url: str | None = None
    # after a user's write, their reads stay on the primary until the replica has replayed it,
    # for at most this long (a replica further behind than this serves that user stale reads)
    replica_read_your_writes_seconds: float = 60.0
    data_dir: Path = field(default_factory=lambda: Path(DEFAULT_DATA_DIR).resolve())
    secret_key: str = ""
    encryption_key: str = ""
    environment: str = "development"
    extra: Mapping[str, str] = field(default_factory=dict)
    # API auth and rate limits (API-core); env PYTAKE_<NAME upper-cased>.
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    # a refresh token rotated at most this long ago still gets a new pair (api/auth/refresh.py)
    refresh_token_rotation_grace_seconds: int = 30
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
    # pools of one runtime process (`api.runtime_context.Runtime.open`) and of its
    # Graph API client: PYTAKE_DB_POOL, PYTAKE_REDIS_POOL, PYTAKE_GRAPH_CONNECTIONS
    # (redis_pool_size is also the API process's Redis pool, `api.app.create_app`)
    db_pool_size: int = 10
    redis_pool_size: int = 200
    graph_connections: int = 64
    # the process's log lines (api/log_context.py): PYTAKE_LOG_FORMAT=text (a terminal's,
    # the default) | json (one JSON object per line, for log collectors in production)
    log_format: str = "text"
    # where the web app may show pictures, video and audio sent by URL from (a flow's `media_url`):
    # CSP sources added to img-src and media-src (api/web_app.py); PYTAKE_WEB_MEDIA_SOURCES,
    # space-separated, `none` for only the app's own files (docs/web.md, "Security headers")
    web_media_sources: tuple[str, ...] = ("https:",)
    # AI providers of `ai_prompt` nodes: OPENAI_API_KEY (or PYTAKE_OPENAI_API_KEY),
    # OPENAI_BASE_URL, ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL (same PYTAKE_ fallbacks)
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    anthropic_api_key: str | None = None
    anthropic_base_url: str | None = None
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
    # The agents' live channel (docs/live.md); env PYTAKE_<NAME upper-cased>.
    # the `live` consumer looks for new events this often while idle
    live_poll_seconds: float = 0.02
    # an API process renews its presence heartbeat this often; it expires after 3 x this
    live_heartbeat_seconds: float = 5.0
    # an open socket's token (revocation, ended sessions, expiry) and scope are checked this often
    live_recheck_seconds: float = 30.0
    # WhatsApp's typing indicator goes to a customer at most once per conversation per this
    live_typing_indicator_seconds: float = 20.0

    @property
    def is_production(self) -> bool:
        return self.environment == PRODUCTION

    @property
    def flow_allow_private_networks(self) -> bool:
        """Whether flows (`api_call`) may reach private and loopback addresses
        (``PYTAKE_FLOW_ALLOW_PRIVATE_NETWORKS``)."""
        return (self.extra or {}).get("PYTAKE_FLOW_ALLOW_PRIVATE_NETWORKS", "").lower() in ("1", "true", "yes")

    @property
    def metrics_token(self) -> str | None:
        """The bearer token `GET /metrics` asks for (``PYTAKE_METRICS_TOKEN``); unset: metrics are off."""
        return (self.extra or {}).get("PYTAKE_METRICS_TOKEN") or None

    @property
    def worker_chores_off(self) -> frozenset[str]:
        """Worker background chores switched off (``PYTAKE_WORKER_CHORES_OFF``, comma-separated,
        for measuring their cost: bench/e2e.py ``--off``): ``live`` (the live channel's
        publisher), ``logs`` (the log store's feeder), ``webhooks`` (outbound webhooks'
        delivery), ``statistics`` (chatbot statistics), ``path-counts`` (the flow path
        counts' flush), ``assignment``, ``maintenance`` (every periodic chore). Empty
        (the default): everything runs. What is off does not happen in this process."""
        raw = (self.extra or {}).get("PYTAKE_WORKER_CHORES_OFF") or ""
        return frozenset(part.strip().lower() for part in raw.split(",") if part.strip())

    @property
    def media_store(self) -> str:
        """Where media files are kept (``PYTAKE_MEDIA_STORE``): ``local`` (default, a
        directory: `media_dir`) or ``s3`` (an S3-compatible bucket, ``PYTAKE_S3_*``: api/media/s3.py)."""
        return ((self.extra or {}).get("PYTAKE_MEDIA_STORE") or "local").strip().lower()

    @property
    def media_dir(self) -> Path:
        """The local media store's directory (``PYTAKE_MEDIA_DIR``, default ``<data dir>/media``)."""
        configured = (self.extra or {}).get("PYTAKE_MEDIA_DIR")
        return Path(configured).expanduser().resolve() if configured else self.data_dir / "media"

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
    def from_env(cls, environ: Mapping[str, str] | None = None, *, keys: bool = True) -> "Settings":
        """The settings of this process. ``keys=False`` (commands that store and sign
        nothing: ``pytake run``, ``chat``, ``sandbox``): secrets are taken as they are
        in the environment, none is generated or written under the data dir."""
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("PYTAKE_DATA_DIR") or DEFAULT_DATA_DIR).expanduser().resolve()
        environment = (env.get("PYTAKE_ENV") or "development").strip().lower()
        secret_key = env.get("PYTAKE_SECRET_KEY") or ""
        encryption_key = env.get("PYTAKE_ENCRYPTION_KEY") or ""
        extra = {k: v for k, v in env.items() if k.startswith("PYTAKE_")}
        common = dict(
            database_url=_check_pooler(normalize_database_url(env.get("DATABASE_URL") or None)),
            redis_url=env.get("REDIS_URL") or None,
            mongodb_url=env.get("MONGODB_URL") or None,
            database_replica_url=_check_pooler(normalize_database_url(env.get("DATABASE_REPLICA_URL") or None),
                                               "DATABASE_REPLICA_URL"),
            **_numbers(env, {"replica_read_your_writes_seconds": "PYTAKE_REPLICA_READ_YOUR_WRITES_SECONDS",
                             "shutdown_grace_seconds": "PYTAKE_SHUTDOWN_GRACE_SECONDS"},
                       float, "number of seconds", positive=True),
            **_numbers(env, {"shutdown_delay_seconds": "PYTAKE_SHUTDOWN_DELAY_SECONDS"}, float, "number of seconds"),
            data_dir=data_dir,
            environment=environment,
            extra=extra,
            **_api_limits(env),
            **_runtime_timings(env),
            **_pools(env),
            **_ai_providers(env),
            **_log_format(env),
            **_web_media_sources(env),
            **_webhook_settings(env),
            **_numbers(env, {n: "PYTAKE_" + n.upper() for n in LIVE_NUMBER_FIELDS}, float, "number", positive=True),
        )
        if not keys:
            return cls(secret_key=secret_key, encryption_key=encryption_key, **common)
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
        return cls(secret_key=secret_key, encryption_key=encryption_key, **common)


API_LIMIT_FIELDS = (
    "access_token_ttl_seconds", "refresh_token_ttl_seconds", "refresh_token_rotation_grace_seconds",
    "ratelimit_login_per_minute",
    "ratelimit_signup_per_minute", "ratelimit_refresh_per_minute", "ratelimit_user_per_minute",
    "list_total_cache_seconds", "list_total_cache_min_rows",
)


def _api_limits(env: Mapping[str, str]) -> dict[str, int]:
    """Integer API settings present in the environment (``PYTAKE_RATELIMIT_LOGIN_PER_MINUTE``...)."""
    return _numbers(env, {name: "PYTAKE_" + name.upper() for name in API_LIMIT_FIELDS}, int, "integer")


RUNTIME_TIMING_FIELDS = (
    "runtime_lease_seconds", "runtime_sweep_seconds", "runtime_stale_seconds", "runtime_full_sweep_seconds",
)


def _runtime_timings(env: Mapping[str, str]) -> dict[str, float]:
    """Positive numbers of seconds (``PYTAKE_RUNTIME_LEASE_SECONDS=4``...)."""
    return _numbers(env, {name: "PYTAKE_" + name.upper() for name in RUNTIME_TIMING_FIELDS}, float,
                    "number of seconds", positive=True)


POOL_FIELDS = {"db_pool_size": "PYTAKE_DB_POOL", "redis_pool_size": "PYTAKE_REDIS_POOL",
               "graph_connections": "PYTAKE_GRAPH_CONNECTIONS"}


def _pools(env: Mapping[str, str]) -> dict[str, int]:
    """Positive pool sizes present in the environment (``PYTAKE_DB_POOL=20``...)."""
    return _numbers(env, POOL_FIELDS, int, "integer", positive=True)


def _numbers(env: Mapping[str, str], variables: Mapping[str, str], parse: Callable[[str], Any], what: str, *,
             positive: bool = False) -> dict[str, Any]:
    """``{field: parse(value)}`` for the ``{field: variable}`` set in ``env`` (empty counts as unset)."""
    values: dict[str, Any] = {}
    for name, variable in variables.items():
        raw = env.get(variable)
        if raw is None or raw == "":
            continue
        article = "an" if what[0] in "aeiou" else "a"
        try:
            values[name] = parse(raw)
        except ValueError as exc:
            raise SettingsError(f"{variable} must be {article} {what}") from exc
        if positive and not values[name] > 0:
            raise SettingsError(f"{variable} must be a positive {what}")
    return values


WEBHOOK_NUMBER_FIELDS = {"webhooks_retry_scale": float, "webhooks_timeout_seconds": float,
                         "webhooks_poll_seconds": float, "webhooks_concurrency": int}
LIVE_NUMBER_FIELDS = ("live_poll_seconds", "live_heartbeat_seconds", "live_recheck_seconds",
                      "live_typing_indicator_seconds")


def _webhook_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """``PYTAKE_WEBHOOKS_*``: whether private networks are allowed, and positive numbers."""
    values: dict[str, Any] = {}
    for kind, what in ((float, "number"), (int, "integer")):
        fields = {n: "PYTAKE_" + n.upper() for n, k in WEBHOOK_NUMBER_FIELDS.items() if k is kind}
        values.update(_numbers(env, fields, kind, what, positive=True))
    flag = env.get("PYTAKE_WEBHOOKS_ALLOW_PRIVATE_NETWORKS", "")
    if flag:
        values["webhooks_allow_private_networks"] = flag.strip().lower() in ("1", "true", "yes")
    return values


LOG_FORMATS = ("text", "json")


def _log_format(env: Mapping[str, str]) -> dict[str, str]:
    value = (env.get("PYTAKE_LOG_FORMAT") or "").strip().lower()
    if not value:
        return {}
    if value not in LOG_FORMATS:
        raise SettingsError(f"PYTAKE_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {value!r}")
    return {"log_format": value}


# a CSP source a web media source may be: a scheme (https:, http:) or a host, with an optional scheme,
# `*.` wildcard, port and path; never a keyword, a quote, `;` or `,`, which would change the policy itself
_MEDIA_SOURCE = re.compile(r"(https?:|(https?://)?(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:(\d{1,5}|\*))?(/[^\s;,'\"]*)?)")


def _web_media_sources(env: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    raw = env.get("PYTAKE_WEB_MEDIA_SOURCES")
    if raw is None or not raw.strip():
        return {}
    sources = tuple(raw.split())
    if sources == ("none",):
        return {"web_media_sources": ()}
    for source in sources:
        if not _MEDIA_SOURCE.fullmatch(source):
            raise SettingsError(
                f"PYTAKE_WEB_MEDIA_SOURCES: {source!r} is not a source to show media from: use schemes and hosts "
                "separated by spaces (https: http: https://cdn.example.com *.example.com), or none")
    return {"web_media_sources": sources}


AI_PROVIDER_FIELDS = ("openai_api_key", "openai_base_url", "anthropic_api_key", "anthropic_base_url")


def _ai_providers(env: Mapping[str, str]) -> dict[str, str]:
    """The providers' own variable names (``OPENAI_API_KEY``) first, then ``PYTAKE_OPENAI_API_KEY``."""
    values: dict[str, str] = {}
    for name in AI_PROVIDER_FIELDS:
        value = env.get(name.upper()) or env.get("PYTAKE_" + name.upper())
        if value:
            values[name] = value
    return values


def normalize_database_url(url: str | None) -> str | None:
    """Accept the usual ``postgres://`` / ``postgresql://`` spellings; use asyncpg."""
    if not url:
        return None
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    return url


# pgbouncer-transaction: PgBouncer in transaction mode, any version (unnamed statements);
# pgbouncer-prepared: the same with PgBouncer 1.21+ and ``max_prepared_statements`` > 0,
# which keeps the clients' named statements across server connections (caches kept)
DATABASE_POOLERS = ("pgbouncer-transaction", "pgbouncer-prepared")


def _check_pooler(url: str | None, variable: str = "DATABASE_URL") -> str | None:
    """``DATABASE_URL=...?pooler=pgbouncer-transaction`` (or ``pgbouncer-prepared``):
    PostgreSQL is reached through PgBouncer in transaction mode (docs/runtime.md
    "PgBouncer"); any other
    ``pooler`` value is refused here rather than at the first connection."""
    from urllib.parse import parse_qs, urlsplit

    for pooler in parse_qs(urlsplit(url or "").query).get("pooler", []):
        if pooler not in DATABASE_POOLERS:
            raise SettingsError(f"{variable}: pooler={pooler} is not one of {', '.join(DATABASE_POOLERS)}")
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
