"""X-Hub-Signature-256: Meta signs every webhook body with the app secret.

The signature is ``sha256=<hex HMAC-SHA256 of the raw request body>``. It must
be computed over the exact bytes received (never re-serialised JSON) and
compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The header value Meta would send for ``body`` (used by the sandbox and tests)."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def verify(secret: str | None, body: bytes, header_value: str | None) -> bool:
    """True when ``header_value`` is a valid signature of ``body`` with ``secret``.

    A missing secret, header or prefix is a failure, never a pass.
    """
    if not secret or not header_value or not header_value.startswith(_PREFIX):
        return False
    expected = sign(secret, body)
    return hmac.compare_digest(expected.encode("ascii"), header_value.strip().encode("ascii", "replace"))
