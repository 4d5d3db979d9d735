"""The S3 store's request signing against AWS's published Signature V4 examples: the
aws-sig-v4-test-suite (get-vanilla, get-vanilla-query-order-key-case, post-vanilla) and
the worked examples of S3's "Signature Calculations for the Authorization Header" page.
Any slip in canonicalisation, key derivation or the final HMAC changes these signatures."""

from __future__ import annotations

import hashlib

import pytest

from api.media import sigv4

SUITE = {"access_key_id": "AKIDEXAMPLE", "secret_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
         "region": "us-east-1", "service": "service", "amz_date": "20150830T123600Z"}
SUITE_HEADERS = {"Host": "example.amazonaws.com", "X-Amz-Date": "20150830T123600Z"}

S3 = {"access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      "region": "us-east-1", "service": "s3", "amz_date": "20130524T000000Z"}
S3_HEADERS = {"host": "examplebucket.s3.amazonaws.com", "x-amz-date": "20130524T000000Z",
              "x-amz-content-sha256": sigv4.EMPTY_SHA256}


def _signature(header: str) -> str:
    return header.rsplit("Signature=", 1)[1]


@pytest.mark.parametrize("method, query, expected", [
    ("GET", [], "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),  # get-vanilla
    ("GET", [("Param2", "value2"), ("Param1", "value1")],  # get-vanilla-query-order-key-case
     "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
    ("POST", [], "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),  # post-vanilla
])
def test_the_aws_sig_v4_test_suite(method: str, query: list, expected: str) -> None:
    header = sigv4.authorization(method, "/", query, SUITE_HEADERS, sigv4.EMPTY_SHA256, **SUITE)
    assert header == ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                      f"SignedHeaders=host;x-amz-date, Signature={expected}")


def test_s3s_get_object_example() -> None:
    header = sigv4.authorization("GET", "/test.txt", [], {**S3_HEADERS, "Range": "bytes=0-9"},
                                 sigv4.EMPTY_SHA256, **S3)
    assert "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date," in header
    assert _signature(header) == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"


def test_s3s_put_object_example_with_a_key_that_needs_encoding() -> None:
    body_hash = hashlib.sha256(b"Welcome to Amazon S3.").hexdigest()
    path = "/" + sigv4.uri_encode("test$file.text", keep_slash=True)
    assert path == "/test%24file.text"
    header = sigv4.authorization("PUT", path, [], {
        **S3_HEADERS, "x-amz-content-sha256": body_hash, "Date": "Fri, 24 May 2013 00:00:00 GMT",
        "x-amz-storage-class": "REDUCED_REDUNDANCY"}, body_hash, **S3)
    assert _signature(header) == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"


@pytest.mark.parametrize("query, expected", [
    ([("lifecycle", "")], "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
    ([("prefix", "J"), ("max-keys", "2")], "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
])
def test_s3s_bucket_examples_sort_and_encode_the_query(query: list, expected: str) -> None:
    assert _signature(sigv4.authorization("GET", "/", query, S3_HEADERS, sigv4.EMPTY_SHA256, **S3)) == expected


def test_a_different_secret_gives_a_different_signature() -> None:
    good = sigv4.authorization("GET", "/", [], SUITE_HEADERS, sigv4.EMPTY_SHA256, **SUITE)
    bad = sigv4.authorization("GET", "/", [], SUITE_HEADERS, sigv4.EMPTY_SHA256, **{**SUITE, "secret_key": "x"})
    assert _signature(good) != _signature(bad) and SUITE["secret_key"] not in good
