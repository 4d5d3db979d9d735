"""The sandbox Graph API: an ASGI app speaking the WhatsApp Cloud API's wire format.

Meta's routes and JSON:

- ``POST /{version}/{phone_number_id}/messages`` with a Bearer token: a send
  answers ``{"messaging_product":"whatsapp","contacts":[{"input","wa_id"}],
  "messages":[{"id":"wamid...."}]}`` (``user_id`` instead of ``wa_id`` for a send
  to a business-scoped user id in ``recipient``; its inbox is that id); a mark-as-read (``"status":"read"``)
  answers ``{"success": true}``; errors answer Meta's error object
  ``{"error":{"message","type","code","error_data":{"messaging_product","details"},"fbtrace_id"}}``.
- A send Meta would refuse is refused the same way (HTTP 400, Meta's error
  object; codes 131008 missing parameter, 131009 invalid value, 100 invalid
  parameter, 131051 unknown type): required fields, every length and count,
  unique ids and titles, the recipient (E.164 digits), media (id or link),
  template fields. The rules are in ``api/sandbox/validation.py``; refused
  requests are listed under ``rejected`` by ``GET /_sandbox/messages``.
- After a send, signed status webhooks (sent, delivered, read) are posted to
  the configured PyTake webhook URL, echoing ``biz_opaque_callback_data``, as
  Meta does: one webhook per status, ``status_delay`` apart, at most
  ``status_concurrency`` in flight, and a webhook answered with anything but
  200 (or not answered) is posted again (``status_retries`` times, backing off).
  The HTTP client is pluggable (``SandboxApp(poster=...)``): the benchmark
  posts on its light keep-alive client.
  As on Meta, each number may belong to its own app: ``apps`` maps a
  ``phone_number_id`` to that app's ``webhook_url`` (PyTake's
  ``/webhooks/whatsapp/<app_key>``) and ``app_secret``; other numbers use the
  default ``webhook_url`` / ``app_secret``.

Provoking errors:

- a recipient number ending in a known error code gets that error every
  time (``5511900131047`` → 131047 re-engagement, ``...131026`` undeliverable,
  ``...130429`` rate limit, ``...131000`` something went wrong, ``...131053``
  media upload error, ``...132001`` template does not exist);
- ``POST /_sandbox/faults {"code": 130429, "count": 2, "to": "5511..."}``: the
  next ``count`` sends (to that recipient, or any) fail with ``code``.

Inspection (for `pytake chat`, tests and the benchmark):
``GET /_sandbox/messages[?to=]`` every accepted message with the time it
arrived; ``GET /_sandbox/inbox/{wa_id}?after=N`` a customer's messages from
index N; ``GET /_sandbox/typing`` the typing indicators shown (a read receipt
with ``"typing_indicator": {"type": "text"}``; any other ``typing_indicator``
is refused with 131009); ``POST /_sandbox/reset``; ``POST /_sandbox/config`` to change the
webhook URL, secret or status behaviour at run time.

Media (``api/sandbox/media.py``): ``POST /{version}/{phone_number_id}/media``
(multipart upload → ``{"id"}``), ``GET /{version}/{media_id}`` (its ``url``,
``mime_type``, ``sha256``, ``file_size``) and the download ``url`` itself, all with
the Bearer token, as Meta serves them; ``SandboxState.add_media`` puts a customer's
file there for a test's inbound webhook.

Templates (``/{version}/{waba_id}/message_templates``: create, list, delete; the
review webhooks; Meta's 132xxx refusals of template sends) are in
``api/sandbox/templates.py``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs

import httpx

from api.sandbox import webhooks
from api.sandbox.example_apis import example_api
from api.sandbox.media import MediaDesk, Raw
from api.sandbox.templates import ROUTE as TEMPLATES_ROUTE, TemplateDesk
from api.sandbox.validation import Invalid, check_send
from api.whatsapp.recipients import is_bsuid
from api.whatsapp.signature import HEADER, sign

log = logging.getLogger("pytake.sandbox")

# code -> (HTTP status, type, message, details)
META_ERRORS: dict[int, tuple[int, str, str, str]] = {
    100: (400, "OAuthException", "(#100) Invalid parameter", "Parameter value is not valid"),
    190: (401, "OAuthException", "Error validating access token: Session has expired", "Invalid OAuth access token"),
    130429: (429, "OAuthException", "(#130429) Rate limit hit",
             "Cloud API message throughput has been reached."),
    131000: (500, "OAuthException", "(#131000) Something went wrong", "Something went wrong"),
    131008: (400, "OAuthException", "(#131008) Required parameter is missing", "A required parameter is missing."),
    131009: (400, "OAuthException", "(#131009) Parameter value is not valid", "One or more parameter values are invalid."),
    131026: (400, "OAuthException", "(#131026) Message undeliverable",
             "Message Undeliverable."),
    131047: (400, "OAuthException", "(#131047) Re-engagement message",
             "Message failed to send because more than 24 hours have passed since the customer last replied to this number."),
    131051: (400, "OAuthException", "(#131051) Unsupported message type", "Message type is not currently supported."),
    131048: (400, "OAuthException", "(#131048) Spam rate limit hit",
             "Message failed to send because there are restrictions on how many messages can be sent from this phone number."),
    131053: (400, "OAuthException", "(#131053) Media upload error",
             "Unable to upload the media used in the message."),
    131056: (400, "OAuthException", "(#131056) (Business Account, Consumer Account) pair rate limit hit",
             "Too many messages sent from the sender phone number to the same recipient phone number in a short period of time."),
    132000: (400, "OAuthException", "(#132000) Number of parameters does not match the expected number of params",
             "number of localizable_params does not match the expected number of params"),
    132015: (400, "OAuthException", "(#132015) Template is paused", "Template is paused due to low quality"),
    132016: (400, "OAuthException", "(#132016) Template is disabled", "Template has been disabled"),
    132001: (404, "OAuthException", "(#132001) Template name does not exist in the translation",
             "template name does not exist in the translation"),
}
_RECIPIENT_RULE = re.compile(r"(" + "|".join(str(c) for c in META_ERRORS if c >= 100000) + r")$")
_SEND_ROUTE = re.compile(r"^/(v\d+(?:\.\d+)?)/([^/]+)/messages$")
_INBOX_ROUTE = re.compile(r"^/_sandbox/inbox/([^/]+)$")
MESSAGE_TYPES = ("text", "image", "video", "audio", "document", "sticker", "interactive", "template",
                 "location", "contacts", "reaction")


@dataclass
class SandboxConfig:
    webhook_url: str | None = None
    app_secret: str | None = None
    # phone_number_id -> {"webhook_url": ..., "app_secret": ...}: numbers of their own Meta app
    apps: dict[str, dict[str, str]] = field(default_factory=dict)
    access_token: str | None = None  # when set, sends must carry it
    send_statuses: bool = True
    auto_read: bool = True
    status_delay: float = 0.02
    status_concurrency: int = 64  # status webhooks in flight at once
    status_retries: int = 5  # further attempts after a non-200 answer or a connection error
    template_review_delay: float = 0.05  # seconds from a template's submission to its review webhook
    template_reject_rule: str = "reject"  # a template whose name contains this is REJECTED

    def webhook_for(self, phone_number_id: str | None) -> tuple[str | None, str | None]:
        """Where the webhooks of ``phone_number_id`` go, and the secret that signs them."""
        app = self.apps.get(phone_number_id or "") or {}
        if app.get("webhook_url"):
            return app["webhook_url"], app.get("app_secret")
        return self.webhook_url, self.app_secret


@dataclass
class Fault:
    code: int
    count: int
    to: str | None = None


@dataclass
class SandboxState:
    config: SandboxConfig = field(default_factory=SandboxConfig)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    inboxes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    read_receipts: list[str] = field(default_factory=list)
    # typing indicators shown to customers: {"message_id", "phone_number_id", "type", "received_at"}
    typing_indicators: list[dict[str, Any]] = field(default_factory=list)
    templates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # WABA id -> its templates
    media: dict[str, dict[str, Any]] = field(default_factory=dict)  # media id -> {data, mime_type, sha256, ...}

    def add_media(self, data: bytes, mime_type: str, *, filename: str | None = None,
                  phone_number_id: str | None = None) -> dict[str, Any]:
        """Keep a file as Meta keeps a customer's (or an upload): its id, sha256, size."""
        return MediaDesk.add(self, data, mime_type, filename=filename, phone_number_id=phone_number_id)

    def reset(self) -> None:
        self.media.clear()
        self.templates.clear()
        self.accepted.clear()
        self.rejected.clear()
        self.inboxes.clear()
        self.faults.clear()
        self.read_receipts.clear()
        self.typing_indicators.clear()

    def fault_for(self, to: str) -> int | None:
        for fault in self.faults:
            if fault.count > 0 and (fault.to is None or fault.to == to):
                fault.count -= 1
                if fault.count == 0:
                    self.faults.remove(fault)
                return fault.code
        match = _RECIPIENT_RULE.search(to)
        return int(match.group(1)) if match else None


def error_body(code: int, message: str | None = None, details: str | None = None) -> tuple[int, dict[str, Any]]:
    status, etype, default_message, default_details = META_ERRORS.get(
        code, (400, "OAuthException", f"(#{code}) Error", ""))
    return status, {"error": {
        "message": message or default_message,
        "type": etype,
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": details or default_details},
        "fbtrace_id": "A" + secrets.token_hex(10),
    }}


Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
# (url, headers, body) -> the HTTP status answered; raises OSError / httpx.HTTPError when unreachable
Poster = Callable[[str, dict[str, str], bytes], Awaitable[int]]


class SandboxApp:
    """ASGI app. Kept dependency-free (no framework) so it is fast enough to
    benchmark the sender against."""

    def __init__(self, state: SandboxState | None = None, poster: Poster | None = None) -> None:
        self.state = state or SandboxState()
        self._client: httpx.AsyncClient | None = None
        self._poster = poster or self._post_httpx
        self._tasks: set[asyncio.Task] = set()
        self._in_flight: asyncio.Semaphore | None = None
        self.templates = TemplateDesk(self)
        self.media = MediaDesk(self)

    # -- ASGI -------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        status, doc = await self.handle(scope["method"], scope["path"],
                                        scope.get("query_string", b"").decode(), body,
                                        dict((k.decode().lower(), v.decode()) for k, v in scope.get("headers", [])))
        if isinstance(doc, Raw):  # a media download: the file's bytes
            payload, content_type = doc.data, doc.content_type.encode()
        else:
            payload, content_type = json.dumps(doc, ensure_ascii=False).encode(), b"application/json"
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", content_type),
                                (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- routing ----------------------------------------------------------
    async def handle(self, method: str, path: str, query: str, body: bytes,
                     headers: dict[str, str]) -> tuple[int, Any]:
        match = _SEND_ROUTE.match(path)
        if match and method == "POST":
            return self._messages(match.group(2), body, headers)
        answer = self.media.handle(method, path, body, headers)
        if answer is not None:
            return answer
        match = TEMPLATES_ROUTE.match(path)
        if match:
            if not self._bearer_ok(headers):
                return error_body(190)
            return self.templates.handle(method, match.group(2), query, _json(body))
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        if path == "/_sandbox/templates/event" and method == "POST":
            return await self.templates.event(_json(body))
        if path == "/_sandbox/messages" and method == "GET":
            items = self.state.accepted
            if params.get("to"):
                items = [m for m in items if m["to"] == params["to"]]
            return 200, {"messages": items, "rejected": self.state.rejected}
        if path == "/_sandbox/typing" and method == "GET":
            return 200, {"typing_indicators": self.state.typing_indicators}
        match = _INBOX_ROUTE.match(path)
        if match and method == "GET":
            inbox = self.state.inboxes.get(match.group(1), [])
            after = int(params.get("after") or 0)
            return 200, {"messages": inbox[after:], "next": len(inbox)}
        if path == "/_sandbox/faults" and method == "POST":
            doc = _json(body)
            if not isinstance(doc, dict) or not isinstance(doc.get("code"), int):
                return error_body(100, details="body must be {\"code\": int, \"count\"?: int, \"to\"?: str}")
            self.state.faults.append(Fault(doc["code"], int(doc.get("count") or 1), doc.get("to")))
            return 200, {"success": True}
        if path == "/_sandbox/config" and method == "POST":
            doc = _json(body)
            if not isinstance(doc, dict):
                return error_body(100, details="body must be a JSON object")
            for key, value in doc.items():
                if hasattr(self.state.config, key):
                    setattr(self.state.config, key, value)
            return 200, {"success": True}
        if path == "/_sandbox/reset" and method == "POST":
            self.state.reset()
            return 200, {"success": True}
        if path == "/_sandbox/health":
            return 200, {"status": "ok"}
        if path.startswith(("/examples/", "/v1/")):  # the demo's example APIs and AI stand-in
            answer = example_api(method, path, body)
            if answer is not None:
                return answer
        return 404, {"error": {"message": "Unknown path components", "type": "OAuthException", "code": 2500,
                               "fbtrace_id": "A" + secrets.token_hex(10)}}

    def _messages(self, phone_number_id: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        if not self._bearer_ok(headers):
            return error_body(190)
        doc = _json(body)
        if not isinstance(doc, dict) or doc.get("messaging_product") != "whatsapp":
            return error_body(100, details="messaging_product must be \"whatsapp\"")
        if doc.get("status") == "read":
            if not isinstance(doc.get("message_id"), str) or not doc["message_id"]:
                return error_body(131008, details="The parameter message_id is required.")
            code = self.state.fault_for(str(doc.get("to") or ""))  # a fault for anyone hits receipts too
            if code is not None:
                return error_body(code)
            indicator = doc.get("typing_indicator")
            if indicator is not None and (not isinstance(indicator, dict) or indicator.get("type") != "text"):
                return error_body(131009, details="typing_indicator must be {\"type\": \"text\"}.")
            self.state.read_receipts.append(str(doc["message_id"]))
            if indicator is not None:
                self.state.typing_indicators.append({"message_id": str(doc["message_id"]),
                                                     "phone_number_id": phone_number_id, "type": "text",
                                                     "received_at": time.time()})
            return 200, {"success": True}
        to, mtype = doc.get("to") or doc.get("recipient"), doc.get("type", "text")  # "to" wins
        now = time.time()
        if mtype not in MESSAGE_TYPES:
            invalid: Invalid | None = Invalid(131051, f"Message type {mtype!r} is not currently supported.")
        else:
            invalid = check_send(doc)
            refusal = self.templates.refusal(doc.get("template")) if invalid is None and mtype == "template" \
                else None
            if refusal is not None:  # a template the sandbox reviewed: Meta's 132xxx checks
                invalid = Invalid(*refusal)
        if invalid is not None:  # Meta's answer to a request it would refuse (api/sandbox/validation.py)
            self.state.rejected.append({"to": to, "code": invalid.code, "details": invalid.details,
                                        "received_at": now, "payload": doc,
                                        "callback_data": doc.get("biz_opaque_callback_data")})
            return error_body(invalid.code, details=invalid.details)
        code = self.state.fault_for(str(to))
        if code is not None:
            self.state.rejected.append({"to": to, "code": code, "received_at": now,
                                        "callback_data": doc.get("biz_opaque_callback_data")})
            return error_body(code)
        wa_id = to.lstrip("+")
        wamid = webhooks.new_wamid()
        record = {"id": wamid, "to": wa_id, "phone_number_id": phone_number_id, "type": mtype,
                  "payload": doc, "received_at": now,
                  "callback_data": doc.get("biz_opaque_callback_data")}
        self.state.accepted.append(record)
        self.state.inboxes.setdefault(wa_id, []).append(record)
        if self.state.config.send_statuses and self.state.config.webhook_for(phone_number_id)[0]:
            self._spawn(self._post_statuses(phone_number_id, wamid, wa_id, doc.get("biz_opaque_callback_data")))
        return 200, {"messaging_product": "whatsapp",
                     "contacts": [{"input": to, "user_id" if is_bsuid(wa_id) else "wa_id": wa_id}],
                     "messages": [{"id": wamid}]}

    # -- status webhooks ----------------------------------------------------
    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post_statuses(self, phone_number_id: str, wamid: str, wa_id: str, callback: str | None) -> None:
        config = self.state.config
        statuses = ["sent", "delivered"] + (["read"] if config.auto_read else [])
        for status in statuses:
            await asyncio.sleep(config.status_delay)
            doc = webhooks.status_update(phone_number_id, wamid, status, wa_id, callback_data=callback)
            await self.post_webhook(doc, phone_number_id)

    async def post_webhook(self, doc: dict[str, Any], phone_number_id: str | None = None) -> bool:
        """POST ``doc`` signed, to the app of ``phone_number_id`` (default: the default app),
        again after a non-200 answer or a connection error, as Meta redelivers; whether it was taken."""
        config = self.state.config
        url, secret = config.webhook_for(phone_number_id)
        if not url:
            return False
        body = webhooks.encode(doc)
        headers = {"Content-Type": "application/json", HEADER: sign(secret or "", body)}
        if self._in_flight is None:
            self._in_flight = asyncio.Semaphore(max(1, config.status_concurrency))
        for attempt in range(config.status_retries + 1):
            if attempt:
                await asyncio.sleep(min(2.0, 0.05 * 2 ** attempt))
            try:
                async with self._in_flight:
                    status = await self._poster(url, headers, body)
            except (OSError, asyncio.IncompleteReadError, httpx.HTTPError) as exc:
                log.warning("sandbox: cannot post the status webhook: %r", exc)
                continue
            if status == 200:
                return True
            log.warning("sandbox: webhook answered HTTP %s", status)
        return False

    async def _post_httpx(self, url: str, headers: dict[str, str], body: bytes) -> int:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=10.0)
        return (await self._client.post(url, content=body, headers=headers)).status_code


    def _bearer_ok(self, headers: dict[str, str]) -> bool:
        return _bearer(headers, self.state.config.access_token)


def _bearer(headers: dict[str, str], expected: str | None = None) -> bool:
    auth = headers.get("authorization", "")
    token = auth[7:] if auth.lower().startswith("bearer ") else ""
    return bool(token) and (not expected or token == expected)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError:
        return None


def create_sandbox_app(config: SandboxConfig | None = None) -> SandboxApp:
    return SandboxApp(SandboxState(config or SandboxConfig()))
