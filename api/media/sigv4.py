"""AWS Signature Version 4 (header auth), as AWS documents it, for S3-compatible stores.

https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html and, for S3's
rules (the path is encoded once, ``x-amz-content-sha256`` is signed),
https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html.
Proven by tests/api/test_sigv4.py against AWS's published examples.

Only the Authorization header carries anything derived from the secret (the
signature); the secret itself never leaves `signing_key`.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timezone
from typing import Mapping
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def uri_encode(value: str, *, keep_slash: bool = False) -> str:
    """AWS's UriEncode: every byte but the unreserved ``A-Za-z0-9-_.~`` as ``%XX`` (upper case)."""
    return quote(value, safe="/~" if keep_slash else "~")


def canonical_query(params: list[tuple[str, str]]) -> str:
    """Names and values encoded, then sorted by name (then value); ``name=`` for an empty value."""
    pairs = sorted((uri_encode(k), uri_encode(v)) for k, v in params)
    return "&".join(f"{k}={v}" for k, v in pairs)


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(f"AWS4{secret_key}".encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def authorization(method: str, path: str, query: list[tuple[str, str]], headers: Mapping[str, str],
                  payload_hash: str, *, access_key_id: str, secret_key: str, region: str, service: str,
                  amz_date: str) -> str:
    """The ``Authorization`` header for a request whose already-encoded ``path`` (as sent),
    ``query`` and ``headers`` (all of them are signed; ``host`` and ``x-amz-date`` must be
    there) are given."""
    canonical_headers = {name.lower().strip(): " ".join(str(value).split()) for name, value in headers.items()}
    names = sorted(canonical_headers)
    signed = ";".join(names)
    canonical = "\n".join([method.upper(), path or "/", canonical_query(query),
                           "".join(f"{n}:{canonical_headers[n]}\n" for n in names), signed, payload_hash])
    date = amz_date[:8]
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    signature = hmac.new(signing_key(secret_key, date, region, service), to_sign.encode(),
                         hashlib.sha256).hexdigest()
    return f"{ALGORITHM} Credential={access_key_id}/{scope}, SignedHeaders={signed}, Signature={signature}"


def amz_date(now: datetime | None = None) -> str:
    return (now or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()
