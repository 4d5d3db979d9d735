"""Meta Graph API client for the WhatsApp Cloud API (send messages, mark read).

One exception hierarchy tells the sender what to do next:

- `TransientGraphError`: Meta answered and did NOT accept the message
  (HTTP 429/5xx, throttling codes such as 130429, 131056, temporary errors
  such as 131000, 131016, 131053 media upload) or the connection could not be
  opened: retry later with backoff.
- `PermanentGraphError`: Meta refused the message for good (131047 outside the
  24-hour window, 131026 undeliverable, 132xxx template errors, 190 expired
  token, 100/131008/131009 invalid request, ...): mark the row failed with
  the code and, for the codes in `REASONS`, what it means for the operator.
- `UncertainDeliveryError`: the request may have reached Meta but no answer
  came back (read timeout, connection dropped): resending could duplicate the
  message, so the sender must not retry blindly.

`classify` follows Meta's error-code table (WhatsApp Cloud API "Error codes":
throttling, temporary and integrity errors); `TRANSIENT_CODES` are the ones
worth trying again.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, Mapping

import httpx

from engine.whatsapp_limits import SECTION_TITLE, shorten
from api.whatsapp.recipients import address

TRANSIENT_CODES = frozenset({
    1,  # API unknown (possible server error)
    2,  # API service temporarily unavailable
    4,  # application request limit
    17,  # user request limit
    341,  # application limit
    80007,  # WABA rate limit
    130429,  # throughput rate limit hit
    131000,  # something went wrong
    131016,  # service unavailable
    131048,  # spam rate limit (quality-based: may clear later)
    131053,  # media upload error: Meta could not fetch the media (the host may be back)
    131056,  # pair rate limit (same recipient too often)
    131057,  # business account in maintenance mode
    133004,  # server temporarily unavailable
})

# code -> what it means for whoever reads the failed row (error_message)
REASONS: dict[int, str] = {
    131047: "outside the 24-hour customer service window: only a template message can reach this customer now",
    131026: "undeliverable: the number is not on WhatsApp, or the customer's app is outdated or has not "
            "accepted WhatsApp's terms",
    131049: "not delivered by Meta to keep healthy ecosystem engagement (marketing message limits); "
            "do not resend at once",
    131050: "the customer stopped marketing messages from this business",
    131051: "message type not supported",
    131021: "the recipient is the sending number itself",
    131031: "the WhatsApp Business account is locked",
    131042: "payment problem on the WhatsApp Business account",
    368: "the WhatsApp Business account is temporarily blocked for policy violations",
    130497: "the business may not message customers in this country",
    190: "the number's access token expired or was revoked: reconnect the number",
    100: "invalid parameter in the request",
    131008: "a required parameter is missing from the request",
    131009: "a parameter value is not valid",
    132000: "the template's parameter count does not match",
    132001: "the template does not exist in this language",
    132015: "the template is paused (low quality)",
    132016: "the template is disabled",
}


class GraphError(Exception):
    """Meta's error: ``code``, ``message``, ``details`` (error_data.details), HTTP status."""

    def __init__(self, message: str, *, code: int | None = None, details: str = "",
                 http_status: int = 0, error_type: str = "", fbtrace_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details
        self.http_status = http_status
        self.error_type = error_type
        self.fbtrace_id = fbtrace_id

    def describe(self) -> str:
        text = self.message
        if self.details and self.details not in text:
            text = f"{text}: {self.details}"
        reason = REASONS.get(self.code) if self.code is not None else None
        if reason:
            text = f"{reason} ({text})"
        return f"({self.code}) {text}" if self.code is not None else text


class TransientGraphError(GraphError):
    """Not accepted; safe to retry later."""


class PermanentGraphError(GraphError):
    """Refused for good; do not retry."""


class UncertainDeliveryError(GraphError):
    """The request may or may not have been accepted."""


@dataclass(frozen=True)
class SendResult:
    wamid: str
    wa_id: str | None


def classify(http_status: int, body: Any) -> GraphError:
    """Turn an error response into the right `GraphError` subclass."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        err = {}
    code = err.get("code")
    try:
        code = int(code) if code is not None else None
    except (TypeError, ValueError):
        code = None
    data = err.get("error_data") if isinstance(err.get("error_data"), dict) else {}
    kwargs = dict(
        code=code,
        details=str(data.get("details") or ""),
        http_status=http_status,
        error_type=str(err.get("type") or ""),
        fbtrace_id=err.get("fbtrace_id"),
    )
    message = str(err.get("message") or f"Graph API answered HTTP {http_status}")
    if http_status == 429 or http_status >= 500 or code in TRANSIENT_CODES or err.get("is_transient") is True:
        return TransientGraphError(message, **kwargs)
    return PermanentGraphError(message, **kwargs)


async def request_json(client: httpx.AsyncClient, method: str, url: str, headers: Mapping[str, str],
                       **kw: Any) -> dict[str, Any]:
    """One Graph API management call (templates, media): its JSON object, or the
    classified error (`classify`); a network failure is transient."""
    try:
        response = await client.request(method, url, headers=headers, **kw)
    except httpx.HTTPError as exc:
        raise TransientGraphError(f"cannot reach the Graph API: {exc!r}") from exc
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 400:
        raise classify(response.status_code, body)
    if not isinstance(body, dict):
        raise GraphError(f"Graph API answered HTTP {response.status_code} without a JSON object")
    return body

def build_message(to: str, msg_type: str, content: Mapping[str, Any],
                  callback_data: str | None = None) -> dict[str, Any]:
    """The Graph ``/messages`` request body for a `messages` row's type and content; ``to``
    is a phone wa_id or a BSUID (sent as ``recipient``: api/whatsapp/recipients.py)."""
    body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual", **address(to)}
    c = dict(content)
    if msg_type == "text":
        body["type"] = "text"
        body["text"] = {"body": str(c.get("text") or ""), "preview_url": bool(c.get("preview_url", False))}
    elif msg_type in ("image", "video", "audio", "document", "sticker"):
        media: dict[str, Any] = {}
        if c.get("media_id"):
            media["id"] = c["media_id"]
        else:
            media["link"] = c.get("media_url") or c.get("link")
        if c.get("caption") and msg_type not in ("audio", "sticker"):
            media["caption"] = c["caption"]
        if msg_type == "document" and c.get("filename"):
            media["filename"] = c["filename"]
        body["type"] = msg_type
        body[msg_type] = media
    elif msg_type in ("button", "list"):
        interactive: dict[str, Any] = {"type": msg_type, "body": {"text": str(c.get("text") or "")}}
        if c.get("header"):
            interactive["header"] = {"type": "text", "text": c["header"]}
        if c.get("footer"):
            interactive["footer"] = {"text": c["footer"]}
        if msg_type == "button":
            interactive["action"] = {"buttons": [
                {"type": "reply", "reply": {"id": str(b["id"]), "title": str(b["title"])}}
                for b in c.get("buttons") or []
            ]}
        else:
            rows = []
            for r in c.get("rows") or []:
                row = {"id": str(r["id"]), "title": str(r["title"])}
                if r.get("description"):
                    row["description"] = str(r["description"])
                rows.append(row)
            interactive["action"] = {"button": str(c.get("button") or "Options"),
                                     "sections": [{"title": shorten(str(c.get("section_title") or c.get("button")
                                                                        or "Options"), SECTION_TITLE),
                                                   "rows": rows}]}
        body["type"] = "interactive"
        body["interactive"] = interactive
    elif msg_type == "template":
        template = dict(c.get("template") or c)
        language = template.get("language") or "pt_BR"
        if isinstance(language, str):
            language = {"code": language}
        components = template.get("components")
        if components is None and template.get("parameters"):
            components = [{"type": "body", "parameters": [
                p if isinstance(p, dict) else {"type": "text", "text": str(p)}
                for p in template["parameters"]
            ]}]
        tpl: dict[str, Any] = {"name": template.get("name"), "language": language}
        if components:
            tpl["components"] = components
        body["type"] = "template"
        body["template"] = tpl
    else:
        raise PermanentGraphError(f"message type {msg_type!r} cannot be sent", code=None)
    if c.get("context_message_id"):
        body["context"] = {"message_id": c["context_message_id"]}
    if callback_data:
        body["biz_opaque_callback_data"] = callback_data
    return body


DEFAULT_CONNECTIONS = 64  # keep-alive connections per process (Settings.graph_connections)


IDLE_KEEPALIVE_S = 4.0


class GraphClient:
    """Async client for ``{base}/{version}/{phone_number_id}/messages``."""

    def __init__(self, base_url: str, version: str, *, timeout: float = 15.0,
                 client: httpx.AsyncClient | None = None, connections: int = DEFAULT_CONNECTIONS) -> None:
        self.base_url = base_url.rstrip("/")
        self.version = version
        self._own = client is None
        # an injected httpx client (tests, custom transports) is used as is; otherwise
        # an aiohttp session with a keep-alive pool: a send costs several times less CPU
        # than through httpx (whose pool rescans every connection on every request)
        self._client = client
        self._session: Any = None
        self._timeout = timeout
        self._connections = connections
        self._slots = asyncio.Semaphore(connections if self._own else 1_000_000)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _aiohttp(self) -> Any:
        if self._session is None:
            import aiohttp

            self._session = aiohttp.ClientSession(
                # An idle connection is dropped after 4 s, before a server's own idle
                # timeout closes it (hypercorn's is 5 s, many proxies' are 5-15 s): a send
                # written into a connection the server is closing fails with no answer and
                # is never resent (delivery_unknown), so the client must let go first.
                connector=aiohttp.TCPConnector(limit=self._connections, keepalive_timeout=IDLE_KEEPALIVE_S),
                timeout=aiohttp.ClientTimeout(total=self._timeout, sock_connect=5.0))
        return self._session

    async def send(self, phone_number_id: str, token: str, payload: Mapping[str, Any]) -> SendResult:
        body = await self._post(phone_number_id, token, payload)
        try:
            message = body["messages"][0]
            contact = (body.get("contacts") or [{}])[0]
            return SendResult(wamid=str(message["id"]), wa_id=contact.get("wa_id") or contact.get("user_id"))
        except (KeyError, IndexError, TypeError) as exc:
            raise UncertainDeliveryError(f"unexpected Graph API answer: {body!r:.200}") from exc

    async def send_message(self, phone_number_id: str, token: str, to: str, msg_type: str,
                           content: Mapping[str, Any], callback_data: str | None = None) -> SendResult:
        return await self.send(phone_number_id, token, build_message(to, msg_type, content, callback_data))

    async def send_text(self, phone_number_id: str, token: str, to: str, text: str) -> SendResult:
        return await self.send_message(phone_number_id, token, to, "text", {"text": text})

    async def send_buttons(self, phone_number_id: str, token: str, to: str, text: str,
                           buttons: list[dict[str, str]]) -> SendResult:
        return await self.send_message(phone_number_id, token, to, "button", {"text": text, "buttons": buttons})

    async def send_list(self, phone_number_id: str, token: str, to: str, text: str, button: str,
                        rows: list[dict[str, str]]) -> SendResult:
        return await self.send_message(phone_number_id, token, to, "list",
                                       {"text": text, "button": button, "rows": rows})

    async def send_media(self, phone_number_id: str, token: str, to: str, media_type: str, link: str,
                         caption: str | None = None, filename: str | None = None) -> SendResult:
        return await self.send_message(phone_number_id, token, to, media_type,
                                       {"media_url": link, "caption": caption, "filename": filename})

    async def send_template(self, phone_number_id: str, token: str, to: str, name: str, language: str,
                            parameters: list[str] | None = None,
                            components: list[dict[str, Any]] | None = None) -> SendResult:
        content: dict[str, Any] = {"name": name, "language": language}
        if components is not None:
            content["components"] = components
        elif parameters:
            content["parameters"] = parameters
        return await self.send_message(phone_number_id, token, to, "template", content)

    async def mark_as_read(self, phone_number_id: str, token: str, wamid: str) -> None:
        await self._post(phone_number_id, token,
                         {"messaging_product": "whatsapp", "status": "read", "message_id": wamid})

    async def send_typing_indicator(self, phone_number_id: str, token: str, wamid: str) -> None:
        """Mark an inbound message read and show the customer WhatsApp's typing indicator
        (dismissed by the reply, or after 25 s)."""
        await self._post(phone_number_id, token, {"messaging_product": "whatsapp", "status": "read",
                                                  "message_id": wamid, "typing_indicator": {"type": "text"}})

    async def _post(self, phone_number_id: str, token: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}/{self.version}/{phone_number_id}/messages"
        headers = {"Authorization": f"Bearer {token}"}
        try:  # requests wait for a connection here, bounded, before anything is sent
            async with asyncio.timeout(self._timeout):
                await self._slots.acquire()
        except TimeoutError as exc:
            raise TransientGraphError("no free connection to the Graph API in time") from exc
        try:
            if self._client is not None:
                status, raw = await self._post_httpx(url, payload, headers)
            else:
                status, raw = await self._post_aiohttp(url, payload, headers)
        finally:
            self._slots.release()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if status >= 400:
            raise classify(status, body)
        if not isinstance(body, dict):
            raise UncertainDeliveryError(f"Graph API answered HTTP {status} without JSON")
        return body

    async def _post_httpx(self, url: str, payload: Mapping[str, Any], headers: dict) -> tuple[int, bytes]:
        try:
            response = await self._client.post(url, json=payload, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TransientGraphError(f"cannot reach the Graph API: {exc!r}") from exc
        except httpx.TimeoutException as exc:  # maybe sent, no answer in time
            raise self._timed_out() from exc
        except httpx.TransportError as exc:  # sent, but the answer was lost
            raise UncertainDeliveryError(f"no answer from the Graph API: {exc!r}") from exc
        return response.status_code, response.content

    async def _post_aiohttp(self, url: str, payload: Mapping[str, Any], headers: dict) -> tuple[int, bytes]:
        import aiohttp

        data = json.dumps(payload, ensure_ascii=False).encode()
        try:
            async with self._aiohttp().post(url, data=data, headers={
                    **headers, "Content-Type": "application/json"}) as response:
                return response.status, await response.read()
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:  # nothing was sent
            raise TransientGraphError(f"cannot reach the Graph API: {exc!r}") from exc
        except TimeoutError as exc:  # maybe sent, no answer in time (aiohttp's ServerTimeoutError too)
            raise self._timed_out() from exc
        except aiohttp.ClientError as exc:  # maybe sent, the answer was lost
            raise UncertainDeliveryError(f"no answer from the Graph API: {exc!r}") from exc

    def _timed_out(self) -> UncertainDeliveryError:
        return UncertainDeliveryError(f"Graph API request timed out after {self._timeout:g} s")
