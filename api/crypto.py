"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) with the settings' key.

Access tokens of WhatsApp numbers, AI keys and integration credentials are
stored encrypted with `encrypt_secret` and read back with `decrypt_secret`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken

if TYPE_CHECKING:  # pragma: no cover
    from api.settings import Settings


class SecretDecryptionError(ValueError):
    """The ciphertext was not made with this key, or was altered."""


@lru_cache(maxsize=8)
def _fernet(key: str) -> Fernet:
    return Fernet(key.encode("ascii"))


def encrypt_secret(settings: "Settings", plaintext: str) -> str:
    """Encrypt ``plaintext``; the result is ASCII, safe for a TEXT column."""
    return _fernet(settings.encryption_key).encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt_secret(settings: "Settings", token: str) -> str:
    """Decrypt what `encrypt_secret` produced; raises `SecretDecryptionError` otherwise."""
    try:
        return _fernet(settings.encryption_key).decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError) as exc:
        raise SecretDecryptionError("secret cannot be decrypted with the configured key") from exc
