"""The Graph client against the sandbox (Meta's wire format): requests and error classes."""

from __future__ import annotations

import httpx
import pytest

from api.sandbox.server import SandboxConfig, create_sandbox_app
from api.whatsapp.graph_client import (
    GraphClient,
    PermanentGraphError,
    TransientGraphError,
    UncertainDeliveryError,
    build_message,
    classify,
)


@pytest.fixture
async def sandbox():
    app = create_sandbox_app(SandboxConfig(send_statuses=False))
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox")
    client = GraphClient("http://sandbox", "v21.0", client=http)
    yield app, client
    await http.aclose()


async def test_text_send_returns_wamid_and_reaches_the_customer(sandbox):
    app, client = sandbox
    result = await client.send_text("1234", "token", "5511988887777", "Olá!")
    assert result.wamid.startswith("wamid.") and result.wa_id == "5511988887777"
    sent = app.state.inboxes["5511988887777"][0]["payload"]
    assert sent["type"] == "text" and sent["text"]["body"] == "Olá!"


async def test_buttons_go_as_interactive_reply_buttons(sandbox):
    app, client = sandbox
    await client.send_buttons("1234", "t", "5511900001100", "Escolha",
                              [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}])
    interactive = app.state.accepted[0]["payload"]["interactive"]
    assert interactive["type"] == "button"
    assert [b["reply"]["id"] for b in interactive["action"]["buttons"]] == ["a", "b"]


async def test_list_goes_as_interactive_list_with_rows(sandbox):
    app, client = sandbox
    await client.send_list("1234", "t", "5511900001100", "Cardápio", "Ver", [{"id": "p1", "title": "Pizza"}])
    action = app.state.accepted[0]["payload"]["interactive"]["action"]
    assert action["button"] == "Ver" and action["sections"][0]["rows"] == [{"id": "p1", "title": "Pizza"}]


async def test_media_goes_by_link_with_caption_and_filename(sandbox):
    app, client = sandbox
    await client.send_media("1234", "t", "5511900001100", "document", "https://x.test/a.pdf", "Seu boleto",
                            "boleto.pdf")
    doc = app.state.accepted[0]["payload"]["document"]
    assert doc == {"link": "https://x.test/a.pdf", "caption": "Seu boleto", "filename": "boleto.pdf"}


async def test_template_parameters_become_a_body_component(sandbox):
    app, client = sandbox
    await client.send_template("1234", "t", "5511900001100", "order_update", "pt_BR", ["Ana", "#123"])
    tpl = app.state.accepted[0]["payload"]["template"]
    assert tpl["language"] == {"code": "pt_BR"}
    assert tpl["components"] == [{"type": "body", "parameters": [
        {"type": "text", "text": "Ana"}, {"type": "text", "text": "#123"}]}]


async def test_mark_as_read_is_accepted(sandbox):
    app, client = sandbox
    await client.mark_as_read("1234", "t", "wamid.abc")
    assert app.state.read_receipts == ["wamid.abc"]


async def test_re_engagement_error_is_permanent_with_metas_code_and_message(sandbox):
    _, client = sandbox
    with pytest.raises(PermanentGraphError) as info:
        await client.send_text("1234", "t", "5511900131047", "oi")
    assert info.value.code == 131047
    assert "24 hours" in info.value.details


async def test_throughput_error_is_transient(sandbox):
    _, client = sandbox
    with pytest.raises(TransientGraphError) as info:
        await client.send_text("1234", "t", "5511900130429", "oi")
    assert info.value.code == 130429


async def test_a_provoked_fault_fails_only_the_next_sends(sandbox):
    app, client = sandbox
    await app.handle("POST", "/_sandbox/faults", "", b'{"code": 131000, "count": 1}', {})
    with pytest.raises(TransientGraphError):
        await client.send_text("1234", "t", "5511900001100", "oi")
    assert (await client.send_text("1234", "t", "5511900001100", "oi")).wamid


async def test_expired_token_is_permanent(sandbox):
    app, client = sandbox
    app.state.config.access_token = "right"
    with pytest.raises(PermanentGraphError) as info:
        await client.send_text("1234", "wrong", "5511900001100", "oi")
    assert info.value.code == 190


async def test_unreachable_server_is_transient():
    client = GraphClient("http://127.0.0.1:9", "v21.0")
    with pytest.raises(TransientGraphError):
        await client.send_text("1", "t", "55", "oi")
    await client.aclose()


async def test_lost_answer_is_uncertain_not_retryable():
    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(drop))
    client = GraphClient("http://graph", "v21.0", client=http)
    with pytest.raises(UncertainDeliveryError):
        await client.send_text("1", "t", "55", "oi")
    await http.aclose()


# Meta's error-code table (WhatsApp Cloud API "Error codes"): what the sender does with each
# (status, code, class, words the failed row's error_message carries)
CLASSIFICATION = [
    # throttling: retry later
    (429, 4, TransientGraphError, None),  # application request limit
    (400, 80007, TransientGraphError, None),  # WABA rate limit
    (400, 130429, TransientGraphError, None),  # throughput
    (400, 131048, TransientGraphError, None),  # spam rate limit
    (400, 131056, TransientGraphError, None),  # pair rate limit
    # temporary
    (500, 1, TransientGraphError, None),
    (503, 2, TransientGraphError, None),
    (500, 131000, TransientGraphError, None),
    (503, 131016, TransientGraphError, None),
    (400, 131053, TransientGraphError, None),  # media upload error: Meta could not fetch the media
    (400, 131057, TransientGraphError, None),  # account in maintenance mode
    (503, 133004, TransientGraphError, None),
    (500, None, TransientGraphError, None),  # any 5xx
    # final, with what it means
    (400, 131047, PermanentGraphError, "24-hour customer service window"),
    (400, 131026, PermanentGraphError, "undeliverable"),
    (400, 131049, PermanentGraphError, "healthy ecosystem"),
    (400, 131051, PermanentGraphError, "not supported"),
    (400, 131021, PermanentGraphError, "sending number"),
    (400, 131042, PermanentGraphError, "payment"),
    (400, 131031, PermanentGraphError, "locked"),
    (400, 368, PermanentGraphError, "policy"),
    (400, 132000, PermanentGraphError, "parameter count"),
    (404, 132001, PermanentGraphError, "does not exist"),
    (400, 100, PermanentGraphError, "invalid parameter"),
    (400, 131008, PermanentGraphError, "required parameter"),
    (400, 131009, PermanentGraphError, "not valid"),
    (401, 190, PermanentGraphError, "access token"),
]


@pytest.mark.parametrize("status,code,kind,reason", CLASSIFICATION,
                         ids=[f"{c}-{k.__name__}" for _, c, k, _ in CLASSIFICATION])
def test_classification_of_meta_error_codes(status, code, kind, reason):
    error = classify(status, {"error": {"code": code, "message": f"(#{code}) m", "type": "OAuthException",
                                        "error_data": {"messaging_product": "whatsapp", "details": "d"}}})
    assert type(error) is kind
    assert error.code == code and error.details == "d"
    if reason is not None:
        text = error.describe()
        assert text.startswith(f"({code}) ") and reason in text and f"(#{code}) m: d" in text


async def test_a_media_upload_error_from_meta_is_retried(sandbox):
    app, client = sandbox
    with pytest.raises(TransientGraphError) as info:
        await client.send_media("1234", "t", "5511900131053", "image", "https://example.com/a.jpg")
    assert info.value.code == 131053


def test_the_default_graph_api_version_is_current_and_configurable():
    from api.whatsapp.config import DEFAULT_GRAPH_VERSION, WhatsAppConfig

    assert DEFAULT_GRAPH_VERSION == "v27.0"
    assert WhatsAppConfig.from_mapping({}).graph_version == "v27.0"
    assert WhatsAppConfig.from_mapping({"PYTAKE_GRAPH_API_VERSION": "v26.0"}).graph_version == "v26.0"


def test_callback_data_rides_along_with_the_message():
    body = build_message("55", "text", {"text": "oi"}, callback_data="msg-id")
    assert body["biz_opaque_callback_data"] == "msg-id"
