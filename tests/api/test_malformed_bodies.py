"""Malformed bodies never answer 500: every route × every kind of bad body.

`api.json_body` decodes every body before the view runs: not UTF-8 JSON
within `API_MAX_DEPTH` levels → 400 ``malformed_json`` naming ``body`` and the
reason; a body that is not sent as JSON → 415. The WhatsApp webhook decodes
its (signed) body itself with `WEBHOOK_MAX_DEPTH`: → 400, nothing stored.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace

import pytest

from api.app import create_app
from api.db import models
from api.json_body import API_MAX_DEPTH, WEBHOOK_MAX_DEPTH, MalformedJSON, decode_json
from api.sandbox import webhooks
from api.whatsapp.signature import sign
from tests.api.route_walk import all_routes, fill_path, offline_app, request_body_schema

JSON = "application/json"


def nested(levels: int) -> bytes:
    """``levels`` nested objects: {"a": {"a": ... {} }}."""
    return b'{"a":' * (levels - 1) + b"{}" + b"}" * (levels - 1)


# kind → (body, content type, expected status, words the reason must contain)
MALFORMED = {
    "invalid_utf8": (b'{"name": "caf\xe9", "email": "\xff\xfe@x.io"}', JSON, 400, "UTF-8"),
    "invalid_utf8_outside_strings": (b'{"name": 1}\xff', JSON, 400, "JSON"),
    "byte_order_mark": (b'\xef\xbb\xbf{"name": "x"}', JSON, 400, "BOM"),
    "lone_surrogate": (b'{"name": "\\ud800", "email": "\\udfff@x.io"}', JSON, 400, "surrogate"),
    "bracket_bomb": (b"[" * 100_000 + b"]" * 100_000, JSON, 400, "nested deeper"),
    "one_level_too_deep": (nested(API_MAX_DEPTH + 1), JSON, 400, f"deeper than {API_MAX_DEPTH}"),
    "truncated": (b'{"name": ', JSON, 400, "JSON"),
    "nan": (b'{"name": NaN}', JSON, 400, "JSON"),
    # whitespace alone is not JSON text; only a body of no bytes is no body (schemathesis sends b"\n")
    "whitespace_only": (b" \r\n\t", JSON, 400, "JSON"),
    "json_as_text_plain": (b'{"name": "x"}', "text/plain", 415, "application/json"),
    "form_encoded": (b"name=x&email=y", "application/x-www-form-urlencoded", 415, "application/json"),
    "untyped": (b'{"name": "x"}', None, 415, "application/json"),
}
ROUTES = all_routes(offline_app())
# views that read their own body (`api.json_body.raw_body`): tested on their own below
# (a campaign's CSV import reads its file as /contacts/import does, `uploaded_csv`)
RAW_BODY_ROUTES = {"POST /contacts/import", "POST /uploads", "POST /webhooks/whatsapp",
                   "POST /webhooks/whatsapp/<app_key>", "POST /campaigns/<uuid:item_id>/recipients/import"}


def _headers(actor, content_type: str | None) -> dict[str, str]:
    headers = dict(actor.headers)
    if content_type:
        headers["Content-Type"] = content_type
    return headers


def _path(route) -> str:
    return fill_path(route.rule, {name: uuid.uuid4() for name in route.params})


async def _send(client, method: str, path: str, body: bytes, headers: dict[str, str]):
    return await client.open(path, method=method, data=body, headers=headers)


@pytest.mark.parametrize("kind", list(MALFORMED))
async def test_every_route_answers_a_malformed_body_with_400_or_415_naming_the_reason(client, super_admin, kind):
    body, content_type, status, reason = MALFORMED[kind]
    wrong = []
    for route in ROUTES:
        if route.id in RAW_BODY_ROUTES:
            continue
        response = await _send(client, route.method, _path(route), body, _headers(super_admin, content_type))
        payload = await response.get_json()
        error = (payload or {}).get("error", {})
        field = "Content-Type" if status == 415 else "body"
        if (response.status_code != status or error.get("field") != field
                or reason not in error.get("message", "")):
            wrong.append(f"{route.id}: {response.status_code} {payload}")
    assert not wrong, "\n".join(wrong)


async def test_unauthenticated_routes_answer_400_too(client):
    """The probe's finding: no token needed to reach the body decoder."""
    for path in ("/auth/login", "/auth/refresh", "/auth/signup"):
        response = await client.post(path, data=b'{"email": "\xff"}', headers={"Content-Type": JSON})
        assert response.status_code == 400, path
    response = await client.patch("/organization", data=b"[" * 100_000, headers={"Content-Type": JSON})
    assert response.status_code == 400


_SPEC: dict = {}


@pytest.fixture
async def openapi_spec(client) -> dict:
    """The served document, built once per run (building it walks every route's schemas)."""
    if not _SPEC:
        _SPEC.update(await (await client.get("/openapi.json")).get_json())
    return _SPEC


@pytest.mark.parametrize("body", [b"", b"   ", b"[]", b'"x"', b"1", b"null", b"true"],
                         ids=["empty", "blank", "array", "string", "number", "null", "boolean"])
async def test_a_body_that_is_not_an_object_is_4xx_naming_the_body(client, super_admin, make_actor, openapi_spec,
                                                                   body):
    """Empty, or JSON but not the object the operation documents: a 4xx naming ``body``
    (an empty body on an operation whose fields are all optional changes nothing: 2xx)."""
    wrong = []
    for route in ROUTES:
        schema = request_body_schema(openapi_spec, route)
        if route.id in RAW_BODY_ROUTES or schema is None:
            continue
        # logging out (an empty body is a valid logout) must not revoke the token the walk uses
        actor = await make_actor(super_admin.org_id, "agent") if route.id == "POST /auth/logout" else super_admin
        response = await _send(client, route.method, _path(route), body, _headers(actor, JSON))
        payload = await response.get_json()
        if response.status_code >= 500:
            wrong.append(f"{route.id}: {response.status_code}")
        elif body.strip() and response.status_code not in (404, 422):
            wrong.append(f"{route.id}: {response.status_code} {payload}")
        elif response.status_code == 422 and not payload["error"].get("details"):
            wrong.append(f"{route.id}: 422 without details {payload}")
        elif (body.strip() and response.status_code == 422
              and "body" not in {d["field"] for d in payload["error"]["details"]}):
            wrong.append(f"{route.id}: 422 not naming body {payload}")
    assert not wrong, "\n".join(wrong)


async def test_the_depth_limit_itself_is_accepted(client, org_admin):
    body = {"name": "Deep settings", "settings": json.loads(nested(API_MAX_DEPTH - 2))}
    response = await client.patch("/organization", headers=org_admin.headers, json=body)
    assert response.status_code == 200, await response.get_json()


def test_decode_json_limits():
    assert decode_json(nested(5), 5) == json.loads(nested(5))
    with pytest.raises(MalformedJSON, match="deeper than 4"):
        decode_json(nested(5), 4)
    with pytest.raises(MalformedJSON, match="deeper than 4"):
        decode_json(b"[" * 2000 + b"]" * 2000, 4)  # beyond orjson's own limit too
    assert decode_json(b'"[[[[[["', 2) == "[[[[[["  # brackets in strings do not count
    assert decode_json(b"[[[]]]", 3) == [[[]]]


async def test_a_contacts_csv_upload_is_not_decoded_as_json(client, org_admin):
    response = await client.post("/contacts/import", data=b"\xff\xfe,not json",
                                 headers=_headers(org_admin, "text/csv"))
    assert response.status_code < 500


async def test_an_upload_that_is_not_multipart_is_422_naming_the_file(client, org_admin):
    for content_type, body in (("application/json", b'{"name": '), ("image/png", b"\x89PNG")):
        response = await client.post("/uploads", data=body, headers=_headers(org_admin, content_type))
        assert response.status_code == 422
        assert (await response.get_json())["error"]["field"] == "file"


# --- the WhatsApp webhook -----------------------------------------------------------

APP_SECRET = "webhook-test-secret"
PHONE_NUMBER_ID = "100200300"


@pytest.fixture
async def webhook_client(api_settings, redis, db, org_a):
    async with db.transaction() as session:
        session.add(models.WhatsAppNumber(organization_id=org_a, phone_number="+5511900000000",
                                          phone_number_id=PHONE_NUMBER_ID))
    settings = replace(api_settings, extra={"PYTAKE_WHATSAPP_APP_SECRET": APP_SECRET})
    application = create_app(settings)
    async with application.test_app():
        yield application.test_client()


def _inbound_with(extra: bytes) -> bytes:
    """A valid inbound text message whose webhook carries ``extra`` (raw JSON) beside it."""
    doc = webhooks.inbound_message(PHONE_NUMBER_ID, "5511966660000", webhooks.text_message("oi"))
    return json.dumps(doc)[:-1].encode() + b', "extra": ' + extra + b"}"


WEBHOOK_MALFORMED = {
    "invalid_utf8": _inbound_with(b'"\xff"'),
    "byte_order_mark": b"\xef\xbb\xbf" + _inbound_with(b"1"),
    "lone_surrogate": _inbound_with(b'"\\ud800"'),
    "one_level_too_deep": _inbound_with(nested(WEBHOOK_MAX_DEPTH)),
    "bracket_bomb": _inbound_with(b"[" * 100_000 + b"]" * 100_000),
    "nan": _inbound_with(b"NaN"),
}


@pytest.mark.parametrize("kind", list(WEBHOOK_MALFORMED))
async def test_a_signed_malformed_webhook_is_400_and_stores_nothing(webhook_client, db, kind):
    from sqlalchemy import func, select

    body = WEBHOOK_MALFORMED[kind]
    response = await webhook_client.post("/webhooks/whatsapp", data=body, headers={
        "Content-Type": JSON, "X-Hub-Signature-256": sign(APP_SECRET, body)})
    assert response.status_code == 400, await response.get_data()
    assert (await response.get_json())["error"]["code"] == "malformed_json"
    async with db.session() as session:
        assert (await session.execute(select(func.count()).select_from(models.Message))).scalar() == 0
        assert (await session.execute(select(func.count()).select_from(models.Contact))).scalar() == 0


async def test_a_webhook_at_the_depth_limit_is_stored(webhook_client, db):
    body = _inbound_with(nested(WEBHOOK_MAX_DEPTH - 1))  # the envelope itself is one level
    response = await webhook_client.post("/webhooks/whatsapp", data=body, headers={
        "Content-Type": JSON, "X-Hub-Signature-256": sign(APP_SECRET, body)})
    assert response.status_code == 200 and (await response.get_json())["stored"] == 1
