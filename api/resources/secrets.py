"""Secret columns: written encrypted, never read back through the API.

A resource declares ``SecretField("access_token", "access_token_encrypted",
"has_access_token")``: clients send the plaintext ``access_token``; it is
encrypted with `api.crypto.encrypt_secret` into the ``*_encrypted`` column;
responses only say ``has_access_token: true``. Sending ``null`` clears it.

Credentials kept in a free-form JSON column (`Resource.credential_columns`,
e.g. a number's ``settings.verify_token``) are shown only to roles that may
write the resource; for the other roles `hide_credentials` drops every
credential-named key (`api.secret_keys`) from those columns, in lists and
single items alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

from api.auth.permissions import allowed
from api.auth.principal import current_principal
from api.context import get_settings
from api.crypto import encrypt_secret
from api.secret_keys import without_secrets


@dataclass(frozen=True)
class SecretField:
    input: str
    column: str
    flag: str
    as_json: bool = False  # structured credentials (a JSON object) are stored as JSON text


def encrypt_inputs(values: dict[str, Any], secrets: Sequence[SecretField]) -> dict[str, Any]:
    """Replace plaintext inputs in ``values`` by their encrypted columns."""
    for secret in secrets:
        if secret.input not in values:
            continue
        plain = values.pop(secret.input)
        if plain is None:
            values[secret.column] = None
            continue
        text = json.dumps(plain, sort_keys=True) if secret.as_json else str(plain)
        values[secret.column] = encrypt_secret(get_settings(), text)
    return values


def secret_flags(row_values: dict[str, Any], secrets: Sequence[SecretField]) -> dict[str, Any]:
    """Drop secret columns from a row's values, adding their ``has_*`` booleans."""
    for secret in secrets:
        row_values[secret.flag] = bool(row_values.pop(secret.column, None))
    return row_values


def reveals_credentials(resource_name: str) -> bool:
    """May the caller see the credentials of ``resource_name``'s rows (it may write them)?"""
    return allowed(current_principal().role, f"{resource_name}:write")


def hide_credentials(values: dict[str, Any], columns: Sequence[str]) -> dict[str, Any]:
    """``values`` with credential-named keys dropped from its JSON ``columns`` (in place)."""
    for column in columns:
        if values.get(column) is not None:
            values[column] = without_secrets(values[column])
    return values
