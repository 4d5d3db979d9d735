"""Property-based fuzzing of the whole API from its own /openapi.json (schemathesis).

Every documented operation gets generated requests, valid (positive) and
invalid (negative), authenticated as an org_admin of a real organization, and
every response goes through all of schemathesis's response checks
(`ALL_CHECKS`: no 5xx, documented status, content type, headers and body
schema, invalid data rejected, valid data accepted, required headers,
unsupported methods answered 405 with ``Allow``, authentication not ignored,
...) but those `EXCLUDED` for an operation, each with its reason. ``POST
/auth/logout`` runs with a token of its own (it revokes it). Generated strings
carry no NUL (U+0000): PostgreSQL text and JSON cannot hold it, and the API
refuses it with a documented 422 (tests/api/resources/test_crud_table.py), so "valid" data
with a NUL would be refused.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import schemathesis
from hypothesis import HealthCheck, Phase, assume, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.python import asgi as schemathesis_asgi

from api.app import create_app

# examples per operation and generation mode: ~2 minutes for the whole API on 2 cores
MAX_EXAMPLES = 40
load_all_checks()
# every response check schemathesis has (the class-based ones run over a whole CLI run, not a response)
ALL_CHECKS = [check for check in CHECKS.get_all() if not isinstance(check, type)]
# (method, path) → checks that cannot apply to that operation, and why
_UNKNOWN_BODY_ID = {"positive_data_acceptance"}  # an id in the body must name a row of the caller's
# organization: a well-formed one that does not is a 422 naming the field (OpenAPI cannot say so)
EXCLUDED: dict[tuple[str, str], set[str]] = {
    ("POST", "/agent-greetings"): _UNKNOWN_BODY_ID,  # user_id
    ("POST", "/campaigns"): _UNKNOWN_BODY_ID,  # template_id
    ("POST", "/conversations"): _UNKNOWN_BODY_ID,  # contact_id
    ("POST", "/departments"): _UNKNOWN_BODY_ID,  # whatsapp_number_id
    ("POST", "/flows"): _UNKNOWN_BODY_ID,  # chatbot_id
    ("POST", "/templates"): _UNKNOWN_BODY_ID,  # whatsapp_number_id
    # the CSV body (multipart/form-data or text/csv) is not described: schemathesis sends none
    ("POST", "/contacts/import"): {"positive_data_acceptance"},
    ("POST", "/agents/me/pull"): _UNKNOWN_BODY_ID,  # department_id
    # buttons' and rows' ids (and buttons' titles) must be unique within the message, which
    # JSON Schema cannot say of a property of array items: a repeat is a 422 naming it
    ("POST", "/conversations/{item_id}/messages"): {"positive_data_acceptance"},
    # a generated file is rarely one WhatsApp carries (type and size are checked): a 422 naming it
    ("POST", "/uploads"): {"positive_data_acceptance"},
    # a URL whose host the SSRF guard refuses (loopback, private, an IPv4 address written as another
    # number: "http://0") is a 422 naming it when saved (docs/events.md); OpenAPI cannot say so
    ("POST", "/webhooks"): {"positive_data_acceptance"},
    ("PATCH", "/webhooks/{item_id}"): {"positive_data_acceptance"},
    ("POST", "/integrations"): {"positive_data_acceptance"},
    ("PATCH", "/integrations/{item_id}"): {"positive_data_acceptance"},
    ("POST", "/integrations/{item_id}/hooks"): {"positive_data_acceptance"},
}
OWN_TOKEN = {("POST", "/auth/logout")}  # revokes the token it is called with


def _test_for(operation, mode: GenerationMode, headers: dict[str, str], checks: list):
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def run(case) -> None:
        # a query parameter whose value is an empty list is not sent at all: a "negative" case
        # made only of such a parameter (schemathesis adds an unnamed one) is a valid request
        assume(mode is GenerationMode.POSITIVE or all(value != [] for value in (case.query or {}).values()))
        response = case.call(headers=headers)
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except BaseException as exc:
            exc.add_note(f"{case.method} {case.formatted_path} {case.query or ''} {case.body!r:.200} "
                         f"-> {response.status_code} {response.text[:300]}")
            raise

    return run


def fuzz(app, headers: dict[str, str], logout_headers: dict[str, str]) -> list[str]:
    """Run every operation; return one line per failing operation and mode."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    schema.config.generation.update(allow_x00=False)
    failures: list[str] = []
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            key = (operation.method.upper(), operation.path)
            own = logout_headers if key in OWN_TOKEN else headers
            skipped = EXCLUDED.get(key, set())
            checks = [c for c in ALL_CHECKS if c.__name__ not in skipped]
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                try:
                    _test_for(operation, mode, own, checks)()
                except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collected, reported below
                    failures.append(f"{key[0]} {key[1]} ({mode.value}): {_describe(exc)}")
    finally:
        schemathesis_asgi.shutdown_lifespans()
    return failures


async def test_fuzzed_requests_pass_every_check(api_settings, org_admin, make_actor, redis):
    settings_ = replace(api_settings, ratelimit_login_per_minute=0, ratelimit_signup_per_minute=0,
                        ratelimit_refresh_per_minute=0, ratelimit_user_per_minute=0)
    app = create_app(settings_)
    logout_actor = await make_actor(org_admin.org_id, "agent")
    started = time.monotonic()
    failures = await asyncio.to_thread(fuzz, app, org_admin.headers, logout_actor.headers)
    print(f"schemathesis: {len(ALL_CHECKS)} checks, {len(EXCLUDED)} operations with exclusions, "
          f"{time.monotonic() - started:.0f} s")
    assert not failures, "\n\n".join(failures)


def test_every_response_check_runs():
    names = {check.__name__ for check in ALL_CHECKS}
    assert {"not_a_server_error", "status_code_conformance", "content_type_conformance",
            "response_headers_conformance", "response_schema_conformance", "negative_data_rejection",
            "positive_data_acceptance", "missing_required_header", "unsupported_method",
            "ignored_auth"} <= names


def _describe(exc: BaseException) -> str:
    notes = " | ".join(getattr(exc, "__notes__", []))
    if isinstance(exc, BaseExceptionGroup):
        return notes + " " + "; ".join(_describe(e) for e in exc.exceptions)
    notes = " | ".join(getattr(exc, "__notes__", []))
    return f"{type(exc).__name__}: {str(exc).splitlines()[0]} {notes}"
