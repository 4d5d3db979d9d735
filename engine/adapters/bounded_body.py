"""A response body read raw and decoded here, never past a size: gzip and deflate layers are
inflated one chunk at a time, each layer bounded, because httpx's own decoder inflates a whole
received chunk in one step (a few hundred bytes of gzip inside gzip are hundreds of megabytes).

Send ``Accept-Encoding: ACCEPT_ENCODING`` (or ``identity``) and read with `decoded_chunks`:
past ``max_bytes`` of decoded content it raises `BodyTooLarge` before inflating more; a coding
other than these, or content that does not inflate, is a `BodyUndecodable` naming it.
"""

from __future__ import annotations

import zlib
from typing import AsyncIterator

import httpx

# the content codings asked for: the ones `_Inflater` bounds
ACCEPT_ENCODING = "gzip, deflate"


class BodyTooLarge(Exception):
    """The decoded body grew past the limit; nothing more was read or inflated."""


class BodyUndecodable(Exception):
    """A content coding not asked for, or content that does not inflate."""


class _Inflater:
    """One gzip or deflate layer of a response, inflating at most ``limit`` bytes of a
    chunk: more would be a body too large (`BodyTooLarge`), and is never inflated."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._raw_deflate = False  # "deflate" is zlib-wrapped by the RFC, raw from some servers
        self._z = zlib.decompressobj(zlib.MAX_WBITS | 16 if coding == "gzip" else zlib.MAX_WBITS)

    def inflate(self, data: bytes, limit: int) -> bytes:
        try:
            out = self._z.decompress(data, limit + 1)
        except zlib.error:
            if self.coding != "deflate" or self._raw_deflate:
                raise
            self._raw_deflate = True
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._z.decompress(data, limit + 1)
        if len(out) > limit or self._z.unconsumed_tail:
            raise BodyTooLarge(f"{self.coding} content inflates past {limit} bytes")
        return out


def _inflaters(content_encoding: str) -> list[_Inflater]:
    """The layers to undo, last applied first; an unknown coding is an error (none other was asked for)."""
    layers: list[_Inflater] = []
    for coding in (c.strip().lower() for c in content_encoding.split(",")):
        if coding in ("", "identity"):
            continue
        if coding not in ("gzip", "x-gzip", "deflate"):
            raise BodyUndecodable(f"unsupported Content-Encoding {coding!r} (asked for {ACCEPT_ENCODING})")
        layers.append(_Inflater("deflate" if coding == "deflate" else "gzip"))
    return layers[::-1]


async def decoded_chunks(response: httpx.Response, max_bytes: int) -> AsyncIterator[bytes]:
    """``response``'s body, decoded, chunk by chunk; `BodyTooLarge` once more than ``max_bytes``
    would be yielded in all, `BodyUndecodable` for a coding not asked for or a corrupt one."""
    layers = _inflaters(response.headers.get("content-encoding", ""))
    size = 0
    async for chunk in response.aiter_raw():
        for i, layer in enumerate(layers):  # the last layer's output is the body
            try:
                chunk = layer.inflate(chunk, max_bytes - size if i == len(layers) - 1 else max_bytes)
            except zlib.error as exc:
                raise BodyUndecodable(f"the {layer.coding} content cannot be decoded ({exc})") from None
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLarge(f"the body is larger than {max_bytes} bytes")
        yield chunk
