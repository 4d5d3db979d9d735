"""The media tests of the local store, run again with ``PYTAKE_MEDIA_STORE=s3`` against a real
S3-speaking server (moto, checking signatures), plus what only S3 can do wrong: refuse the
credentials, lack the bucket, be down, or throttle (tried again, the message never lost)."""

from __future__ import annotations

from typing import Iterator

import pytest

from api.media.s3 import S3Config, S3Error, S3MediaStore
from tests.runtime.conftest import Api, free_port
from tests.runtime.s3_server import FlakyFront, S3Server, start_moto
# The same behaviour as with the local store: collected here again, with the S3 store.
from tests.runtime.test_media import (PNG, _customer_sends, api,  # noqa: F401
                                      test_a_customers_document_is_served_as_an_attachment_with_its_name,
                                      test_a_customers_image_is_stored_and_agents_fetch_the_same_bytes,
                                      test_a_file_whose_sha256_is_not_metas_fails_and_the_message_says_why,
                                      test_an_agents_upload_is_sent_to_the_customer_by_its_meta_media_id,
                                      test_an_upload_of_another_organization_is_not_found,
                                      test_an_upload_whatsapp_would_refuse_is_422_naming_the_file,
                                      test_another_organization_cannot_fetch_the_media)


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    server, moto = start_moto()
    try:
        yield server
    finally:
        moto.stop()


@pytest.fixture
def servers_env(request, s3: S3Server, tmp_path) -> dict[str, str]:
    """The S3 store on moto's bucket; a test changes it with ``indirect`` parametrisation. The
    local media directory is set apart, so a test can check nothing was written there."""
    overrides = dict(getattr(request, "param", {}))
    if overrides.get("PYTAKE_S3_ENDPOINT") == "flaky":  # through `flaky`, whose port is known only now
        overrides["PYTAKE_S3_ENDPOINT"] = request.getfixturevalue("flaky").url
    return s3.env(PYTAKE_MEDIA_DIR=str(tmp_path / "local-media"), **overrides)


def _store(s3: S3Server, **overrides: str) -> S3MediaStore:
    return S3MediaStore(S3Config.from_mapping(s3.env(**overrides)))


async def test_a_customers_file_is_an_object_of_its_organization_in_the_bucket(api: Api, s3: S3Server,
                                                                               tmp_path) -> None:
    servers = api.servers
    row = await _customer_sends(servers, "5511955551001", "image", servers.sandbox.add_media(PNG, "image/png"))
    media = row["metadata"]["media"]
    assert media["status"] == "stored", media
    organization = servers.seeded.organization_id
    assert media["key"] == f"{organization}/in/{row['id']}"
    stored = s3.client().get_object(Bucket=s3.bucket, Key=media["key"])  # read back by another S3 client
    assert stored["Body"].read() == PNG
    assert not (tmp_path / "local-media").exists()  # nothing went to the local directory


async def test_an_agents_upload_is_kept_in_the_bucket(api: Api, s3: S3Server) -> None:
    servers = api.servers
    upload = await servers.client.post(servers.pytake_url + "/uploads", headers=api.headers,
                                       files={"file": ("menu.png", PNG, "image/png")})
    assert upload.status_code == 201, upload.text
    key = f"{servers.seeded.organization_id}/up/{upload.json()['upload_id']}"
    assert s3.client().get_object(Bucket=s3.bucket, Key=key)["Body"].read() == PNG


@pytest.mark.parametrize("servers_env", [{"PYTAKE_S3_SECRET_ACCESS_KEY": "not-the-secret-key"}], indirect=True)
async def test_a_wrong_secret_key_fails_the_media_clearly_and_keeps_the_message(api: Api) -> None:
    servers = api.servers
    row = await _customer_sends(servers, "5511955551002", "image", servers.sandbox.add_media(PNG, "image/png"),
                                caption="a nota")
    media = row["metadata"]["media"]
    assert media["status"] == "failed" and media["attempts"] == 3
    assert "refused the credentials (SignatureDoesNotMatch" in media["error"]
    assert "PYTAKE_S3_SECRET_ACCESS_KEY" in media["error"] and "not-the-secret-key" not in media["error"]
    listed = await api.ok("GET", f"/conversations/{row['conversation_id']}/messages?direction=inbound")
    assert listed["items"][0]["content"]["caption"] == "a nota"  # the message is there, its media says why
    response = await api.call("GET", f"/conversations/{row['conversation_id']}/messages/{row['id']}/media")
    assert response.status_code == 409 and "SignatureDoesNotMatch" in response.json()["error"]["message"]

    upload = await servers.client.post(servers.pytake_url + "/uploads", headers=api.headers,
                                       files={"file": ("x.png", PNG, "image/png")})
    assert upload.status_code == 503, upload.text
    error = upload.json()["error"]
    assert error["code"] == "media_store_unavailable" and "refused the credentials" in error["message"]


@pytest.mark.parametrize("servers_env", [{"PYTAKE_S3_BUCKET": "no-such-bucket"}], indirect=True)
async def test_a_missing_bucket_is_named(api: Api) -> None:
    servers = api.servers
    row = await _customer_sends(servers, "5511955551003", "image", servers.sandbox.add_media(PNG, "image/png"))
    media = row["metadata"]["media"]
    assert media["status"] == "failed" and "bucket 'no-such-bucket' does not exist" in media["error"]


@pytest.mark.parametrize("servers_env", [{"PYTAKE_S3_ENDPOINT": f"http://127.0.0.1:{free_port()}"}],
                         indirect=True)
async def test_s3_down_is_said_plainly_for_fetches_and_uploads(api: Api) -> None:
    servers = api.servers
    row = await _customer_sends(servers, "5511955551004", "image", servers.sandbox.add_media(PNG, "image/png"))
    media = row["metadata"]["media"]
    assert media["status"] == "failed" and media["attempts"] == 3
    assert "gave up after 3 attempts" in media["error"] and "cannot be reached" in media["error"]
    upload = await servers.client.post(servers.pytake_url + "/uploads", headers=api.headers,
                                       files={"file": ("x.png", PNG, "image/png")})
    assert upload.status_code == 503 and "cannot be reached" in upload.json()["error"]["message"]


@pytest.fixture
def flaky(s3: S3Server) -> Iterator[FlakyFront]:
    front = FlakyFront(s3.endpoint)
    front.refuse = 1
    yield front
    front.close()


@pytest.mark.parametrize("servers_env", [{"PYTAKE_S3_ENDPOINT": "flaky"}], indirect=True)
async def test_a_throttled_store_is_tried_again_and_the_file_kept(api: Api, s3: S3Server, flaky: FlakyFront) -> None:
    """S3 answers 503 SlowDown to the first PUT: the worker tries again (with the file it
    already downloaded from Meta) and the second attempt stores it."""
    servers = api.servers
    row = await _customer_sends(servers, "5511955551005", "image", servers.sandbox.add_media(PNG, "image/png"))
    media = row["metadata"]["media"]
    assert media["status"] == "stored" and media["attempts"] == 2, media
    assert flaky.seen[:2] == [("PUT", 503), ("PUT", 200)]
    assert s3.client().get_object(Bucket=s3.bucket, Key=media["key"])["Body"].read() == PNG
    served = await api.call("GET", f"/conversations/{row['conversation_id']}/messages/{row['id']}/media")
    assert served.status_code == 200 and served.content == PNG


def test_the_store_puts_heads_gets_and_deletes_under_the_key(s3: S3Server) -> None:
    store = _store(s3, PYTAKE_S3_PREFIX="pytake/media")
    key = "00000000-0000-0000-0000-000000000001/up/00000000-0000-0000-0000-0000000000aa"
    assert store.get(key) is None and store.head(key) is None
    store.put(key, b"hello")
    assert store.get(key) == b"hello" and store.head(key)["size"] == 5
    assert s3.client().get_object(Bucket=s3.bucket, Key="pytake/media/" + key)["Body"].read() == b"hello"
    store.delete(key)
    assert store.get(key) is None
    store.delete(key)  # deleting what is not there is no error
    with pytest.raises(ValueError):
        store.get("../../etc/passwd")


def test_a_wrong_access_key_id_and_a_wrong_secret_are_refused_by_name(s3: S3Server) -> None:
    key = "00000000-0000-0000-0000-000000000001/in/00000000-0000-0000-0000-0000000000bb"
    for overrides, code in (({"PYTAKE_S3_SECRET_ACCESS_KEY": "wrong-secret"}, "SignatureDoesNotMatch"),
                            ({"PYTAKE_S3_ACCESS_KEY_ID": "AKIAWRONGWRONGWRONG0"}, "InvalidAccessKeyId")):
        store = _store(s3, **overrides)
        with pytest.raises(S3Error) as raised:
            store.put(key, b"x")
        assert raised.value.code == code and raised.value.status == 403 and not raised.value.transient
        assert "refused the credentials" in str(raised.value) and "wrong-secret" not in str(raised.value)
        assert "wrong-secret" not in repr(store) and "wrong-secret" not in repr(store.config)


def test_an_incomplete_configuration_names_what_is_missing() -> None:
    from api.media.store import MediaStoreUnavailable

    with pytest.raises(MediaStoreUnavailable, match="PYTAKE_S3_BUCKET, PYTAKE_S3_SECRET_ACCESS_KEY"):
        S3Config.from_mapping({"PYTAKE_S3_ACCESS_KEY_ID": "a"})
    with pytest.raises(MediaStoreUnavailable, match="PYTAKE_S3_ADDRESSING"):
        S3Config.from_mapping({"PYTAKE_S3_BUCKET": "b", "PYTAKE_S3_ACCESS_KEY_ID": "a",
                               "PYTAKE_S3_SECRET_ACCESS_KEY": "s", "PYTAKE_S3_ADDRESSING": "sideways"})
    aws = S3Config.from_mapping({"PYTAKE_S3_BUCKET": "b", "PYTAKE_S3_ACCESS_KEY_ID": "a",
                                 "PYTAKE_S3_SECRET_ACCESS_KEY": "s", "PYTAKE_S3_REGION": "sa-east-1"})
    assert (aws.endpoint, aws.path_style) == ("https://s3.sa-east-1.amazonaws.com", False)
    assert S3MediaStore(aws)._origin == "https://b.s3.sa-east-1.amazonaws.com"
