"""The S3-compatible media store (``PYTAKE_MEDIA_STORE=s3``): AWS S3, MinIO, Ceph RGW,
Cloudflare R2, Backblaze B2, moto...

Objects are PUT, GET, HEAD and DELETE over httpx, signed with AWS Signature V4
(`api.media.sigv4`). The object of a store key (``{org}/in/{message id}``,
``{org}/up/{upload id}``) is ``PYTAKE_S3_PREFIX`` + the key, so every object lives under
its organization's id.

Configuration (docs/replies.md "The media store"):

- ``PYTAKE_S3_BUCKET`` (required), ``PYTAKE_S3_ACCESS_KEY_ID`` and
  ``PYTAKE_S3_SECRET_ACCESS_KEY`` (required);
- ``PYTAKE_S3_REGION`` (default ``us-east-1``);
- ``PYTAKE_S3_ENDPOINT`` (default ``https://s3.<region>.amazonaws.com``);
- ``PYTAKE_S3_ADDRESSING``: ``path`` (``<endpoint>/<bucket>/<key>``, the default when an
  endpoint is given: MinIO and most self-hosted servers) or ``virtual``
  (``<bucket>.<endpoint host>/<key>``, the default on AWS);
- ``PYTAKE_S3_PREFIX`` (default empty): e.g. ``pytake/media/`` to share a bucket.

Failures are `S3Error` (a `MediaStoreUnavailable`) saying what went wrong and what to
check; ``transient`` ones (S3 unreachable, 5xx, throttled) are worth trying again. The
secret key is never in a message, a log line or a repr.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Mapping

import httpx

from api.media import sigv4
from api.media.store import MediaStoreUnavailable, check_key

CONNECT_TIMEOUT = 5.0
TIMEOUT = 60.0
TRANSIENT_CODES = frozenset({"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout",
                             "RequestTimeTooSkewed"})


class S3Error(MediaStoreUnavailable):
    """The S3 server refused or failed a request (or could not be reached)."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 transient: bool = False) -> None:
        super().__init__(message)
        self.status, self.code, self.transient = status, code, transient


@dataclass(frozen=True)
class S3Config:
    bucket: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    region: str = "us-east-1"
    endpoint: str = ""
    path_style: bool = True
    prefix: str = ""

    @classmethod
    def from_settings(cls, settings: Any) -> "S3Config":
        return cls.from_mapping(dict(settings.extra or {}))

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> "S3Config":
        """The store's configuration; `MediaStoreUnavailable` naming a missing or malformed variable."""
        def value(name: str) -> str:
            return (env.get(name) or "").strip()

        missing = [name for name in ("PYTAKE_S3_BUCKET", "PYTAKE_S3_ACCESS_KEY_ID", "PYTAKE_S3_SECRET_ACCESS_KEY")
                   if not value(name)]
        if missing:
            raise MediaStoreUnavailable(f"PYTAKE_MEDIA_STORE=s3 needs {', '.join(missing)}")
        region = value("PYTAKE_S3_REGION") or "us-east-1"
        endpoint = value("PYTAKE_S3_ENDPOINT").rstrip("/")
        if endpoint:
            url = httpx.URL(endpoint)
            if url.scheme not in ("http", "https") or not url.host or url.path not in ("", "/") or url.query:
                raise MediaStoreUnavailable(f"PYTAKE_S3_ENDPOINT must be http(s)://host[:port], not {endpoint!r}")
        addressing = value("PYTAKE_S3_ADDRESSING").lower() or ("path" if endpoint else "virtual")
        if addressing not in ("path", "virtual"):
            raise MediaStoreUnavailable(f"PYTAKE_S3_ADDRESSING must be 'path' or 'virtual', not {addressing!r}")
        prefix = value("PYTAKE_S3_PREFIX").lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return cls(bucket=value("PYTAKE_S3_BUCKET"), access_key_id=value("PYTAKE_S3_ACCESS_KEY_ID"),
                   secret_access_key=value("PYTAKE_S3_SECRET_ACCESS_KEY"), region=region,
                   endpoint=endpoint or f"https://s3.{region}.amazonaws.com", path_style=addressing == "path",
                   prefix=prefix)


class S3MediaStore:
    """`LocalMediaStore`'s interface (put, get, delete; plus head) on an S3 bucket. Blocking
    calls (the callers run them in a thread, as for files); one connection pool per store."""

    def __init__(self, config: S3Config, *, client: httpx.Client | None = None) -> None:
        self.config = config
        self._client = client or httpx.Client(timeout=httpx.Timeout(TIMEOUT, connect=CONNECT_TIMEOUT))
        base = httpx.URL(config.endpoint)
        if config.path_style:
            self._origin = f"{base.scheme}://{base.netloc.decode()}"
            self._base_path = "/" + sigv4.uri_encode(config.bucket)
        else:
            self._origin = f"{base.scheme}://{config.bucket}.{base.netloc.decode()}"
            self._base_path = ""
        self._host = httpx.URL(self._origin).netloc.decode()

    def __repr__(self) -> str:
        return f"S3MediaStore(bucket={self.config.bucket!r}, endpoint={self.config.endpoint!r})"

    def put(self, key: str, data: bytes) -> None:
        self._request("PUT", key, data)

    def get(self, key: str) -> bytes | None:
        response = self._request("GET", key, missing_ok=True)
        return None if response is None else response.content

    def head(self, key: str) -> dict[str, Any] | None:
        """``{"size", "content_type", "etag"}`` of the object, or None when there is none."""
        response = self._request("HEAD", key, missing_ok=True)
        if response is None:
            return None
        return {"size": int(response.headers.get("content-length", 0)),
                "content_type": response.headers.get("content-type"), "etag": response.headers.get("etag")}

    def delete(self, key: str) -> None:
        self._request("DELETE", key)  # S3 answers 204 for a key that is not there

    def close(self) -> None:
        self._client.close()

    def _request(self, method: str, key: str, body: bytes = b"", *, missing_ok: bool = False) -> httpx.Response | None:
        check_key(key)
        path = f"{self._base_path}/{sigv4.uri_encode(self.config.prefix + key, keep_slash=True)}"
        payload_hash = hashlib.sha256(body).hexdigest()
        headers = {"host": self._host, "x-amz-date": sigv4.amz_date(), "x-amz-content-sha256": payload_hash}
        headers["authorization"] = sigv4.authorization(
            method, path, [], headers, payload_hash, access_key_id=self.config.access_key_id,
            secret_key=self.config.secret_access_key, region=self.config.region, service="s3",
            amz_date=headers["x-amz-date"])
        if method == "PUT":
            headers["content-type"] = "application/octet-stream"
        try:
            response = self._client.request(method, self._origin + path, content=body or None, headers=headers)
        except httpx.TimeoutException as exc:
            raise S3Error(f"S3 at {self.config.endpoint} did not answer in time ({type(exc).__name__})",
                          transient=True) from None
        except httpx.HTTPError as exc:
            raise S3Error(f"S3 at {self.config.endpoint} cannot be reached: {type(exc).__name__}: {exc}",
                          transient=True) from None
        if response.status_code < 300:
            return response
        code, message = _error(response)
        if response.status_code == 404 and missing_ok and code in (None, "NoSuchKey"):
            return None
        raise self._describe(method, response.status_code, code, message)

    def _describe(self, method: str, status: int, code: str | None, message: str | None) -> S3Error:
        bucket, endpoint = self.config.bucket, self.config.endpoint
        said = f" ({code}{': ' + message if message else ''})" if code else ""
        if code == "NoSuchBucket" or (status == 404 and method != "HEAD" and code is None):
            return S3Error(f"the S3 bucket {bucket!r} does not exist at {endpoint}: create it or fix "
                           f"PYTAKE_S3_BUCKET{said}", status=status, code=code)
        if code in ("SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidToken"):
            return S3Error(f"S3 at {endpoint} refused the credentials{said}: check PYTAKE_S3_ACCESS_KEY_ID "
                           "and PYTAKE_S3_SECRET_ACCESS_KEY", status=status, code=code)
        if status == 403:
            return S3Error(f"S3 at {endpoint} refused access to bucket {bucket!r}{said}: the key "
                           f"PYTAKE_S3_ACCESS_KEY_ID needs s3:{_ACTIONS[method]} on it", status=status, code=code)
        transient = status >= 500 or status == 429 or code in TRANSIENT_CODES
        return S3Error(f"S3 at {endpoint} answered HTTP {status} to a {method}{said}", status=status, code=code,
                       transient=transient)


_ACTIONS = {"PUT": "PutObject", "GET": "GetObject", "HEAD": "GetObject", "DELETE": "DeleteObject"}


def _error(response: httpx.Response) -> tuple[str | None, str | None]:
    """S3's ``<Error><Code>…</Code><Message>…</Message></Error>`` (None, None without one).
    Read with a pattern, not an XML parser: nothing of the answer is expanded."""
    text = response.content[:65536].decode("utf-8", "replace")
    code, message = _CODE.search(text), _MESSAGE.search(text)
    return (code.group(1).strip() or None if code else None,
            message.group(1).strip()[:300] or None if message else None)


_CODE = re.compile(r"<Code>([^<]{1,100})</Code>")
_MESSAGE = re.compile(r"<Message>([^<]*)</Message>")


_STORES: dict[S3Config, S3MediaStore] = {}
_LOCK = threading.Lock()


def s3_store(settings: Any) -> S3MediaStore:
    """The store of these settings (one per configuration, so its connections are reused)."""
    config = S3Config.from_settings(settings)
    with _LOCK:
        store = _STORES.get(config)
        if store is None:
            store = _STORES[config] = S3MediaStore(config)
        return store
