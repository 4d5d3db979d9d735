"""The media store: where customers' and agents' files are kept, by key.

Keys start with the organization's id (``{org}/in/{message id}``,
``{org}/up/{upload id}``): a file is found only through a row of its
organization, and the route serving it checks that row's organization.

`LocalMediaStore` (the default) is a directory under the data dir
(``Settings.media_dir``); ``PYTAKE_MEDIA_STORE=s3`` is an S3-compatible bucket
(`api.media.s3.S3MediaStore`, configured by ``PYTAKE_S3_*``). Both take the same
keys and answer the same way (``get`` of a missing key: None); a store that cannot
do what was asked raises `MediaStoreUnavailable` saying why.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any

from api.settings import Settings

_KEY = re.compile(r"^[0-9a-f-]{36}/(in|up)/[0-9a-f-]{36}$")


class MediaStoreUnavailable(RuntimeError):
    """The configured media store cannot be used."""


def check_key(key: str) -> str:
    """Keys are ours; anything else is refused, never joined to a path or an object name."""
    if not _KEY.match(key):
        raise ValueError(f"not a media key: {key!r}")
    return key


class LocalMediaStore:
    """Files under one directory; written to a temporary name, then renamed (a reader
    never sees half a file)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def media_store(settings: Settings) -> Any:
    """The store ``settings`` name: a `LocalMediaStore` or an `api.media.s3.S3MediaStore`
    (`MediaStoreUnavailable` for an unknown one or an incomplete configuration)."""
    kind = settings.media_store
    if kind == "local":
        return LocalMediaStore(settings.media_dir)
    if kind == "s3":
        from api.media.s3 import s3_store  # s3 imports this module

        return s3_store(settings)
    raise MediaStoreUnavailable(f"unknown PYTAKE_MEDIA_STORE {kind!r}: use 'local' or 's3'")


def inbound_key(organization_id: object, message_id: object) -> str:
    return f"{organization_id}/in/{message_id}"


def upload_key(organization_id: object, upload_id: object) -> str:
    return f"{organization_id}/up/{upload_id}"
