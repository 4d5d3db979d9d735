"""X-Hub-Signature-256 over the raw body, with the app secret."""

from __future__ import annotations

import hashlib
import hmac

from api.whatsapp.signature import sign, verify

BODY = b'{"object":"whatsapp_business_account","entry":[]}'


def test_signature_is_hmac_sha256_of_raw_body():
    expected = "sha256=" + hmac.new(b"s3cret", BODY, hashlib.sha256).hexdigest()
    assert sign("s3cret", BODY) == expected


def test_valid_signature_verifies():
    assert verify("s3cret", BODY, sign("s3cret", BODY))


def test_signature_of_other_bytes_fails_even_if_same_json():
    reformatted = b'{"object": "whatsapp_business_account", "entry": []}'
    assert not verify("s3cret", reformatted, sign("s3cret", BODY))


def test_wrong_secret_fails():
    assert not verify("other", BODY, sign("s3cret", BODY))


def test_missing_header_secret_or_prefix_fails():
    good = sign("s3cret", BODY)
    assert not verify("s3cret", BODY, None)
    assert not verify(None, BODY, good)
    assert not verify("s3cret", BODY, good.removeprefix("sha256="))
