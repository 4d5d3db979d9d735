"""Secrets at rest: Fernet with the settings' key."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography.fernet import Fernet

from api.crypto import SecretDecryptionError, decrypt_secret, encrypt_secret
from api.settings import Settings


@pytest.fixture
def settings() -> Settings:
    return Settings(secret_key="s", encryption_key=Fernet.generate_key().decode())


def test_a_secret_round_trips(settings):
    assert decrypt_secret(settings, encrypt_secret(settings, "EAAG-token-ç")) == "EAAG-token-ç"


def test_ciphertext_does_not_contain_the_secret(settings):
    assert "EAAG-token" not in encrypt_secret(settings, "EAAG-token")


def test_the_same_secret_encrypts_differently_each_time(settings):
    assert encrypt_secret(settings, "x") != encrypt_secret(settings, "x")


def test_another_key_cannot_decrypt(settings):
    other = replace(settings, encryption_key=Fernet.generate_key().decode())
    with pytest.raises(SecretDecryptionError):
        decrypt_secret(other, encrypt_secret(settings, "secret"))


def test_tampered_ciphertext_is_refused(settings):
    token = encrypt_secret(settings, "secret")
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(SecretDecryptionError):
        decrypt_secret(settings, tampered)
