"""Media through the API with the sandbox as Meta: a customer's file is fetched into the media
store and served to agents; an agent's upload is uploaded to Meta and sent by its media id."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from api.db.models import Organization
from api.sandbox import webhooks
from tests.runtime.conftest import PNID, Api, user_headers

# a real 1x1 PNG
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture
async def api(servers) -> Api:
    return Api(servers, await user_headers(servers.db, servers.seeded.organization_id))


async def _message(servers, wa_id: str, kind: str) -> dict[str, Any]:
    async def found() -> Any:
        async with servers.db.session() as s:
            row = (await s.execute(text(
                "SELECT m.id, m.conversation_id, m.metadata FROM messages m JOIN conversations c ON c.id = "
                "m.conversation_id JOIN contacts k ON k.id = c.contact_id WHERE k.whatsapp_id = :w "
                "AND m.direction = 'inbound' AND m.type = :t AND m.metadata ? 'media'"),
                {"w": wa_id, "t": kind})).mappings().first()
            return dict(row) if row else None
    return await servers.wait_for(found)


async def _customer_sends(servers, wa_id: str, kind: str, media: dict[str, Any], **kw: Any) -> dict[str, Any]:
    response = await servers.post(webhooks.inbound_message(PNID, wa_id, webhooks.media_message(kind, media, **kw)))
    assert response.status_code == 200, response.text
    return await _message(servers, wa_id, "image" if kind == "sticker" else kind)


async def test_a_customers_image_is_stored_and_agents_fetch_the_same_bytes(api: Api) -> None:
    servers = api.servers
    media = servers.sandbox.add_media(PNG, "image/png")
    row = await _customer_sends(servers, "5511955550001", "image", media, caption="minha nota")
    assert row["metadata"]["media"]["status"] == "stored", row["metadata"]["media"]

    listed = await api.ok("GET", f"/conversations/{row['conversation_id']}/messages?direction=inbound")
    shown = listed["items"][0]["media"]
    assert shown["status"] == "stored" and shown["mime_type"] == "image/png" and shown["size"] == len(PNG)
    response = await api.call("GET", shown["url"])
    assert response.status_code == 200
    assert response.content == PNG
    assert response.headers["content-type"] == "image/png"
    assert response.headers["content-disposition"].startswith("inline;")
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_customers_document_is_served_as_an_attachment_with_its_name(api: Api) -> None:
    servers = api.servers
    media = servers.sandbox.add_media(PDF, "application/pdf")
    row = await _customer_sends(servers, "5511955550002", "document", media, filename="boleto.pdf")
    response = await api.call("GET", f"/conversations/{row['conversation_id']}/messages/{row['id']}/media")
    assert response.content == PDF
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith('attachment; filename="boleto.pdf"')


async def test_a_file_whose_sha256_is_not_metas_fails_and_the_message_says_why(api: Api) -> None:
    servers = api.servers
    media = servers.sandbox.add_media(PNG, "image/png")
    media["sha256"] = "0" * 64  # Meta's hash no longer matches the bytes served
    row = await _customer_sends(servers, "5511955550003", "image", media)
    failed = row["metadata"]["media"]
    assert failed["status"] == "failed" and "sha256" in failed["error"] and failed["attempts"] == 3
    listed = await api.ok("GET", f"/conversations/{row['conversation_id']}/messages?direction=inbound")
    assert listed["items"][0]["media"]["error"] == failed["error"]
    response = await api.call("GET", f"/conversations/{row['conversation_id']}/messages/{row['id']}/media")
    assert response.status_code == 409 and "sha256" in response.json()["error"]["message"]


async def test_a_type_whatsapp_does_not_carry_as_an_image_is_refused_with_the_reason(api: Api) -> None:
    servers = api.servers
    media = servers.sandbox.add_media(b"GIF89a....", "image/gif")
    row = await _customer_sends(servers, "5511955550004", "image", media)
    assert row["metadata"]["media"]["status"] == "failed"
    assert "image/gif is not supported for image" in row["metadata"]["media"]["error"]


async def test_another_organization_cannot_fetch_the_media(api: Api) -> None:
    servers = api.servers
    media = servers.sandbox.add_media(PNG, "image/png")
    row = await _customer_sends(servers, "5511955550005", "image", media)
    async with servers.db.transaction() as s:
        other = Organization(name="Other", slug=f"other-{uuid.uuid4().hex[:8]}")
        s.add(other)
        await s.flush()
        other_id = other.id
    intruder = Api(servers, await user_headers(servers.db, other_id))
    path = f"/conversations/{row['conversation_id']}/messages/{row['id']}/media"
    response = await intruder.call("GET", path)
    assert response.status_code == 404 and response.content != PNG
    listed = await intruder.call("GET", f"/conversations/{uuid.uuid4()}/messages/{row['id']}/media")
    assert listed.status_code == 404


async def test_an_agents_upload_is_sent_to_the_customer_by_its_meta_media_id(api: Api) -> None:
    servers = api.servers
    wa_id = "5511955550006"
    await servers.customer_says(wa_id, "oi, manda a foto")
    conversation = await _conversation(servers, wa_id)
    upload = await servers.client.post(servers.pytake_url + "/uploads", headers=api.headers,
                                       files={"file": ("cardapio.png", PNG, "image/png")})
    assert upload.status_code == 201, upload.text
    body = upload.json()
    assert (body["kind"], body["mime_type"], body["size"]) == ("image", "image/png", len(PNG))

    sent = await api.ok("POST", f"/conversations/{conversation}/messages",
                        {"type": "image", "upload_id": body["upload_id"], "caption": "Cardápio"}, status=201)
    received = await servers.wait_for(lambda: [m for m in servers.inbox(wa_id) if m["type"] == "image"])
    image = received[0]["payload"]["image"]
    assert image["caption"] == "Cardápio"
    assert servers.sandbox.media[image["id"]]["data"] == PNG  # what Meta got is the agent's file
    assert sent["content"]["media_id"] == image["id"]
    fetched = await api.call("GET", sent["media"]["url"])  # and agents see what was sent
    assert fetched.content == PNG


async def test_an_upload_whatsapp_would_refuse_is_422_naming_the_file(api: Api) -> None:
    servers = api.servers
    for name, data, mime in (("a.gif", b"GIF89a", "image/gif"), ("big.png", b"\x89PNG" + b"0" * (5 * 1024 * 1024),
                                                                   "image/png")):
        response = await servers.client.post(servers.pytake_url + "/uploads", headers=api.headers,
                                             files={"file": (name, data, mime)})
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == "file"


async def test_an_upload_of_another_organization_is_not_found(api: Api) -> None:
    servers = api.servers
    wa_id = "5511955550007"
    await servers.customer_says(wa_id, "oi")
    conversation = await _conversation(servers, wa_id)
    async with servers.db.transaction() as s:
        other = Organization(name="Other", slug=f"other-{uuid.uuid4().hex[:8]}")
        s.add(other)
        await s.flush()
        other_id = other.id
    intruder = await user_headers(servers.db, other_id)
    upload = await servers.client.post(servers.pytake_url + "/uploads", headers=intruder,
                                       files={"file": ("x.png", PNG, "image/png")})
    response = await api.call("POST", f"/conversations/{conversation}/messages",
                              {"type": "image", "upload_id": upload.json()["upload_id"]})
    assert response.status_code == 422 and response.json()["error"]["field"] == "upload_id"


async def _conversation(servers, wa_id: str) -> str:
    async def found() -> Any:
        async with servers.db.session() as s:
            return (await s.execute(text("SELECT c.id FROM conversations c JOIN contacts k ON k.id = c.contact_id "
                                         "WHERE k.whatsapp_id = :w"), {"w": wa_id})).scalar()
    return str(await servers.wait_for(found))


async def test_the_sandbox_refuses_media_downloads_without_a_token(servers) -> None:
    media = servers.sandbox.add_media(PNG, "image/png")
    async with httpx.AsyncClient() as client:
        info = await client.get(f"{servers.sandbox_url}/v21.0/{media['id']}", headers={"Authorization": "Bearer t"})
        assert info.json()["sha256"] == media["sha256"] and info.json()["file_size"] == str(len(PNG))
        assert (await client.get(info.json()["url"])).status_code == 401
        assert (await client.get(info.json()["url"], headers={"Authorization": "Bearer t"})).content == PNG
