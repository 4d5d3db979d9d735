"""`MediaAPI.download` against a local server speaking HTTP as Meta's media host would: a file
comes back as sent, byte for byte with its sha256; the limit holds on the decoded bytes; and a
compressed answer (never asked for) is inflated a bounded chunk at a time, so a few hundred bytes
of gzip inside gzip are refused as too large without the worker ever holding the megabytes."""

from __future__ import annotations

import gzip
import hashlib
import tracemalloc
import zlib

import httpx
import pytest

from api.whatsapp.graph_client import GraphError
from api.whatsapp.media import MediaAPI, MediaTooLarge
from tests.engine.conftest import LocalServer

LIMIT = 5 * 1024 * 1024  # an image's limit


@pytest.fixture
def meta():
    server = LocalServer()
    yield server
    server.close()


async def _download(server: LocalServer, path: str, limit: int = LIMIT) -> tuple[bytes, str]:
    async with httpx.AsyncClient() as client:
        return await MediaAPI(server.url, "v21.0", "tok", client=client).download(f"{server.url}{path}", limit)


async def test_a_file_comes_back_as_sent_and_asked_for_without_compression(meta):
    jpeg = bytes(range(256)) * 40
    meta.routes[("GET", "/file")] = (200, {"Content-Type": "image/jpeg"}, jpeg)
    assert await _download(meta, "/file") == (jpeg, hashlib.sha256(jpeg).hexdigest())
    sent = meta.requests[0]["headers"]
    assert sent["authorization"] == "Bearer tok" and sent["accept-encoding"] == "identity"


async def test_a_gzipped_answer_is_inflated_and_hashed_as_the_file(meta):
    jpeg = bytes(range(256)) * 40
    meta.routes[("GET", "/file")] = (200, {"Content-Encoding": "gzip"}, gzip.compress(jpeg))
    assert await _download(meta, "/file") == (jpeg, hashlib.sha256(jpeg).hexdigest())


async def test_a_file_over_the_limit_is_too_large(meta):
    meta.routes[("GET", "/big")] = (200, {}, bytes(2049))
    with pytest.raises(MediaTooLarge, match="over the limit of 2048 bytes"):
        await _download(meta, "/big", limit=2048)


def _gzip_of_zeros(size: int) -> bytes:
    """``size`` zero bytes gzipped, without ever holding them."""
    z = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = bytes(1024 * 1024)
    return b"".join(z.compress(block) for _ in range(size // len(block))) + z.flush()


async def test_a_gzip_bomb_is_too_large_without_being_inflated(meta):
    """200 MB of zeros in under a KiB: before, httpx's decoder inflated each received chunk
    whole (hundreds of MB held at once) before the size was even counted."""
    bomb = gzip.compress(_gzip_of_zeros(200 * 1024 * 1024))
    assert len(bomb) < 1024
    meta.routes[("GET", "/bomb")] = (200, {"Content-Encoding": "gzip, gzip"}, bomb)
    tracemalloc.start()
    try:
        with pytest.raises(MediaTooLarge):
            await _download(meta, "/bomb")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * LIMIT


async def test_a_coding_not_asked_for_is_an_error_naming_it(meta):
    meta.routes[("GET", "/br")] = (200, {"Content-Encoding": "br"}, b"\x0b\x02\x80hi\x03")
    with pytest.raises(GraphError, match="unsupported Content-Encoding 'br'"):
        await _download(meta, "/br")
