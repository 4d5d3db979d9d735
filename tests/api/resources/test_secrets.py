"""Secrets are accepted in plaintext, stored encrypted, and never appear in any response."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from api.crypto import decrypt_secret
from api.db import models as m


@dataclass
class SecretCase:
    id: str
    path: str
    model: type
    body: dict[str, Any]
    input: str
    column: str
    flag: str


def _plain() -> str:
    return f"PLAINTEXT-{uuid.uuid4().hex}"


CASES = [
    SecretCase("whatsapp_number_access_token", "/whatsapp-numbers", m.WhatsAppNumber,
               {"phone_number": "+5511990001111", "phone_number_id": "pn-secret-1"},
               "access_token", "access_token_encrypted", "has_access_token"),
    SecretCase("chatbot_ai_api_key", "/chatbots", m.Chatbot, {"name": "Bot"},
               "ai_api_key", "ai_api_key_encrypted", "has_ai_api_key"),
    SecretCase("integration_credentials", "/integrations", m.Integration, {"type": "zapier", "name": "Zapier"},
               "credentials", "credentials_encrypted", "has_credentials"),
    SecretCase("webhook_secret", "/webhooks", m.Webhook,
               {"name": "hook", "url": "https://example.com/h", "events": ["message.sent"]},
               "secret", "secret", "has_secret"),
]
by_case = pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])


async def _raw(client, actor, method: str, path: str, body: Any = None) -> tuple[int, str]:  # noqa: ANN001
    kwargs = {"json": body} if body is not None else {}
    response = await getattr(client, method)(path, headers=actor.headers, **kwargs)
    return response.status_code, await response.get_data(as_text=True)


@by_case
async def test_secret_never_appears_in_any_response(case: SecretCase, seed, client, org_admin) -> None:
    first, second = _plain(), _plain()
    responses = []
    status, text = await _raw(client, org_admin, "post", case.path, {**case.body, case.input: first})
    assert status == 201, text
    item = json.loads(text)
    responses.append(text)
    path = f"{case.path}/{item['id']}"
    responses.append((await _raw(client, org_admin, "get", path))[1])
    responses.append((await _raw(client, org_admin, "get", case.path))[1])
    responses.append((await _raw(client, org_admin, "patch", path, {case.input: second}))[1])
    responses.append((await _raw(client, org_admin, "get", "/audit-logs?per_page=100"))[1])
    for text in responses:
        assert first not in text and second not in text
        assert case.column not in json.loads(text) if text.startswith("{") else True
    assert item[case.flag] is True
    assert case.input not in item


@by_case
async def test_secret_is_stored_encrypted_and_decrypts_to_the_plaintext(
        case: SecretCase, seed, admin_api, db, api_settings) -> None:
    plain = _plain()
    item = await admin_api.created(case.path, {**case.body, case.input: plain})
    async with db.session() as session:
        row = await session.get(case.model, uuid.UUID(item["id"]))
        stored = getattr(row, case.column)
    assert plain not in stored
    assert plain in decrypt_secret(api_settings, stored)


@by_case
async def test_secret_can_be_cleared_with_null(case: SecretCase, seed, admin_api) -> None:
    item = await admin_api.created(case.path, {**case.body, case.input: _plain()})
    status, updated = await admin_api.patch(f"{case.path}/{item['id']}", {case.input: None})
    assert status == 200
    assert updated[case.flag] is False


@by_case
async def test_without_a_secret_the_flag_is_false(case: SecretCase, seed, admin_api) -> None:
    item = await admin_api.created(case.path, case.body)
    assert item[case.flag] is False


async def test_structured_integration_credentials_round_trip_as_json(seed, admin_api, db, api_settings) -> None:
    credentials = {"client_id": "abc", "client_secret": _plain()}
    item = await admin_api.created("/integrations", {"type": "zapier", "name": "Zap", "credentials": credentials})
    async with db.session() as session:
        row = await session.get(m.Integration, uuid.UUID(item["id"]))
    assert json.loads(decrypt_secret(api_settings, row.credentials_encrypted)) == credentials
