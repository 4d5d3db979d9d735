"""deploy/compose.yaml: docker cannot run here, so its structure is checked instead:
the services, their health checks and grace periods, the dependency order, and that
every environment variable it gives PyTake is one PyTake reads (api/settings.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from api.settings import Settings

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "deploy" / "compose.yaml"
PYTAKE_SERVICES = ("migrate", "api", "worker", "worker-bulk")
WORKERS = ("worker", "worker-bulk")
_INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)s", value)
    assert match, f"grace period {value!r} is not in seconds"
    return float(match.group(1))


def _interpolated(value: str) -> str:
    """The value compose would pass, with a placeholder for each ``${VAR...}``."""
    return _INTERPOLATION.sub(lambda m: f"x{m.group(1).lower()}", value)


def test_services_and_their_backing_servers(compose: dict) -> None:
    services = compose["services"]
    assert set(services) == {"migrate", "api", *WORKERS, "postgres", "pgbouncer", "redis", "mongodb"}
    for name in ("api", "postgres", "pgbouncer", "redis", "mongodb"):
        assert services[name]["healthcheck"]["test"], name
    assert "/ready" in " ".join(services["api"]["healthcheck"]["test"])
    for name in ("api", *WORKERS):
        needs = services[name]["depends_on"]
        assert needs["migrate"]["condition"] == "service_completed_successfully"
        for backing in ("pgbouncer", "redis", "mongodb"):
            assert needs[backing]["condition"] == "service_healthy"
    assert services["pgbouncer"]["environment"]["POOL_MODE"] == "transaction"


def test_grace_periods_cover_the_shutdown_phases(compose: dict) -> None:
    services = compose["services"]
    env = {k: _interpolated(str(v)) for k, v in services["api"]["environment"].items()}
    settings = Settings.from_env(env | {"PYTAKE_DATA_DIR": "/tmp/unused"}, keys=False)
    api_needs = settings.shutdown_delay_seconds + settings.shutdown_grace_seconds
    assert _seconds(services["api"]["stop_grace_period"]) > api_needs
    # a worker: running tasks for the grace period, then their sends for as long again
    for name in WORKERS:
        assert _seconds(services[name]["stop_grace_period"]) > 2 * settings.shutdown_grace_seconds
    assert all(services[n]["stop_signal"] == "SIGTERM" for n in PYTAKE_SERVICES)


def test_pytake_services_go_through_pgbouncer_and_migrate_around_it(compose: dict) -> None:
    services = compose["services"]
    for name in ("api", *WORKERS):
        url = services[name]["environment"]["DATABASE_URL"]
        assert "@pgbouncer:6432/" in url and url.endswith("?pooler=pgbouncer-prepared")
    # the PgBouncer that pooler needs: 1.21+ keeping prepared statements (docs/runtime.md "PgBouncer")
    bouncer = services["pgbouncer"]
    version = tuple(int(v) for v in bouncer["image"].split(":v")[1].split("-")[0].split("."))
    assert version >= (1, 21) and int(bouncer["environment"]["MAX_PREPARED_STATEMENTS"]) > 0
    assert "@postgres:5432/" in services["migrate"]["environment"]["DATABASE_URL"]
    assert services["migrate"]["command"] == ["pytake", "db", "upgrade"]
    assert services["api"]["command"][:2] == ["pytake", "serve"] and "--no-migrate" in services["api"]["command"]
    assert all(services[name]["command"][:2] == ["pytake", "worker"] for name in WORKERS)


def test_every_task_lane_is_taken_by_some_worker(compose: dict) -> None:
    from api.workers.queue import LANES, WORKER_LANES

    taken: set[str] = set()
    for name in WORKERS:
        command = compose["services"][name]["command"]
        lanes = command[command.index("--lanes") + 1] if "--lanes" in command else "all"
        taken.update(WORKER_LANES[lanes])
    assert taken == set(LANES)


def test_the_bulk_worker_gets_the_cpu_after_the_api_and_the_live_workers(compose: dict) -> None:
    services = compose["services"]
    default_weight = 1024  # Docker's cpu_shares when unset
    bulk = services["worker-bulk"].get("cpu_shares", default_weight)
    assert all(bulk < services[name].get("cpu_shares", default_weight) for name in ("api", "worker"))


def _read_in_code(name: str) -> bool:
    """Whether PyTake's code names the variable (settings read through `Settings.extra`)."""
    for root in ("api", "pytake"):
        for path in (REPO / root).rglob("*.py"):
            if f'"{name}"' in path.read_text(encoding="utf-8"):
                return True
    return False


def test_every_variable_given_to_pytake_is_a_real_setting(compose: dict) -> None:
    base = {"PYTAKE_DATA_DIR": "/tmp/unused"}
    default = Settings.from_env(base, keys=False)
    for service in PYTAKE_SERVICES:
        for name, value in compose["services"][service]["environment"].items():
            value = _interpolated(str(value))
            configured = Settings.from_env(base | {name: value}, keys=False)  # also: the value parses
            changed = [f for f in default.__dataclass_fields__ if f != "extra"
                       and getattr(configured, f) != getattr(default, f)]
            assert changed or _read_in_code(name), f"{service}: {name} is not a setting PyTake reads"
