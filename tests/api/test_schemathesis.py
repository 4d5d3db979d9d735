"""Property-based fuzzing of the whole API from its own /openapi.json (schemathesis).

Every documented operation gets a few generated requests (valid and invalid),
authenticated as an org_admin of a real organization. No response may be a
5xx, every status answered must be documented for the operation (errors
included: `api.openapi_docs`), and its body must match the documented schema
(the `ErrorResponse` shape for errors).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi as schemathesis_asgi
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from api.app import create_app

MAX_EXAMPLES = 5
# Logging out would revoke the token the rest of the run uses.
SKIPPED = {("POST", "/auth/logout")}


def fuzz(app, headers: dict[str, str]) -> list[str]:
    """Run every operation; return one line per failing operation."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            if (operation.method.upper(), operation.path) in SKIPPED:
                continue

            @given(case=operation.as_strategy())
            @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck),
                      phases=[Phase.explicit, Phase.generate])
            def run(case) -> None:
                response = case.call(headers=headers)
                case.validate_response(
                    response, checks=[not_a_server_error, status_code_conformance, response_schema_conformance])

            try:
                run()
            except Exception as exc:  # noqa: BLE001 - collected, reported below
                failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    finally:
        schemathesis_asgi.shutdown_lifespans()
    return failures


async def test_fuzzed_requests_never_cause_a_server_error(api_settings, org_admin, redis):
    settings_ = replace(api_settings, ratelimit_login_per_minute=0, ratelimit_signup_per_minute=0,
                        ratelimit_refresh_per_minute=0, ratelimit_user_per_minute=0)
    app = create_app(settings_)
    failures = await asyncio.to_thread(fuzz, app, org_admin.headers)
    assert not failures, "\n\n".join(failures)
