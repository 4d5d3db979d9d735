"""Which keys of a JSON object hold credentials, and that object without them.

Free-form JSON columns (a WhatsApp number's or a chatbot's ``settings``, the
organization's ``settings``) hold credentials next to ordinary options: the
webhook ``verify_token``, an ``app_secret``, an ``access_token``, API keys.
A key is a credential when its name contains one of `SECRET_MARKERS`
(case-insensitive), at any depth. The audit trail masks such keys
(`api.audit`); responses drop them for roles that may not manage the resource
(`api.resources.secrets.hide_credentials`).
"""

from __future__ import annotations

from typing import Any

SECRET_MARKERS = ("password", "secret", "token", "api_key", "apikey", "credential", "private_key",
                  "passphrase")


def is_secret_key(key: str) -> bool:
    lowered = key.lower()
    return any(marker in lowered for marker in SECRET_MARKERS)


def without_secrets(value: Any) -> Any:
    """A copy of ``value`` (JSON) with every credential-named key removed, at any depth."""
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items() if not is_secret_key(str(k))}
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    return value
