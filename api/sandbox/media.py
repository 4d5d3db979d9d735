"""The sandbox's media endpoints, as Meta serves them (Bearer token on each):

- ``POST /{version}/{phone_number_id}/media``, multipart ``messaging_product``,
  ``type`` (MIME) and ``file`` → ``{"id": "<media id>"}``; a missing part is
  Meta's 131008/100 refusal;
- ``GET /{version}/{media_id}`` → ``{"messaging_product", "url", "mime_type",
  "sha256", "file_size" (a string, as Meta sends it), "id"}``; unknown id → 100;
- ``GET /_sandbox/media/{media_id}`` (the ``url`` above) → the file's bytes
  with its Content-Type; without a Bearer token → 401 (190), as Meta's
  lookaside host refuses an unauthenticated download.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

_UPLOAD = re.compile(r"^/(v\d+\.\d+)/([^/]+)/media$")
_INFO = re.compile(r"^/(v\d+\.\d+)/([0-9]+)$")
_DOWNLOAD = re.compile(r"^/_sandbox/media/([0-9]+)$")


@dataclass(frozen=True)
class Raw:
    """A response that is not JSON (a downloaded file)."""

    data: bytes
    content_type: str


class MediaDesk:
    def __init__(self, app: Any) -> None:
        self.app = app

    @staticmethod
    def add(state: Any, data: bytes, mime_type: str, *, filename: str | None = None,
            phone_number_id: str | None = None) -> dict[str, Any]:
        media_id = str(10 ** 15 + secrets.randbelow(9 * 10 ** 15))
        record = {"id": media_id, "data": data, "mime_type": mime_type, "sha256": hashlib.sha256(data).hexdigest(),
                  "file_size": len(data), "filename": filename, "phone_number_id": phone_number_id}
        state.media[media_id] = record
        return record

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any] | None:
        from api.sandbox.server import error_body

        state = self.app.state
        upload, info, download = _UPLOAD.match(path), _INFO.match(path), _DOWNLOAD.match(path)
        if not (upload and method == "POST" or (info or download) and method == "GET"):
            return None
        if not self.app._bearer_ok(headers):
            return error_body(190)
        if upload:
            return self._upload(upload.group(2), body, headers)
        media = state.media.get((info or download).group(info and 2 or 1))  # type: ignore[union-attr]
        if media is None:
            return error_body(100, details="Unsupported get request. Object with this ID does not exist.")
        if download:
            return 200, Raw(media["data"], media["mime_type"])
        url = f"http://{headers.get('host', '127.0.0.1')}/_sandbox/media/{media['id']}"
        return 200, {"messaging_product": "whatsapp", "url": url, "mime_type": media["mime_type"],
                     "sha256": media["sha256"], "file_size": str(media["file_size"]), "id": media["id"]}

    def _upload(self, phone_number_id: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        from api.sandbox.server import error_body

        content_type = headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            return error_body(100, details="the upload must be multipart/form-data")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
        fields: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name == "file":
                fields["file"] = (part.get_payload(decode=True) or b"", part.get_filename(),
                                  part.get_content_type())
            elif name:
                fields[name] = (part.get_payload(decode=True) or b"").decode()
        if fields.get("messaging_product") != "whatsapp":
            return error_body(131008, details="The parameter messaging_product is required.")
        if "file" not in fields:
            return error_body(131008, details="The parameter file is required.")
        if not fields.get("type"):
            return error_body(131008, details="The parameter type is required.")
        data, filename, _ = fields["file"]
        record = self.add(self.app.state, data, fields["type"], filename=filename, phone_number_id=phone_number_id)
        return 200, {"id": record["id"]}
