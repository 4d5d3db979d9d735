"""The media store: where customers' and agents' files are kept, by key.

Keys start with the organization's id (``{org}/in/{message id}``,
``{org}/up/{upload id}``): a file is found only through a row of its
organization, and the route serving it checks that row's organization.

`LocalMediaStore` (the default) is a directory under the data dir
(``Settings.media_dir``). ``PYTAKE_MEDIA_STORE=s3`` answers plainly that an
S3-compatible store is not available in this build (`MediaStoreUnavailable`):
it is not implemented, rather than half-working.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

from api.settings import Settings

_KEY = re.compile(r"^[0-9a-f-]{36}/(in|up)/[0-9a-f-]{36}$")


class MediaStoreUnavailable(RuntimeError):
    """The configured media store cannot be used."""


class LocalMediaStore:
    """Files under one directory; written to a temporary name, then renamed (a reader
    never sees half a file)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):  # keys are ours; anything else is refused, never joined to a path
            raise ValueError(f"not a media key: {key!r}")
        return self.root / key

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


def media_store(settings: Settings) -> LocalMediaStore:
    """The store ``settings`` name (`MediaStoreUnavailable` for one this build lacks)."""
    kind = settings.media_store
    if kind == "local":
        return LocalMediaStore(settings.media_dir)
    if kind == "s3":
        raise MediaStoreUnavailable("the S3-compatible media store is not available in this build: "
                                    "set PYTAKE_MEDIA_STORE=local (files under PYTAKE_MEDIA_DIR)")
    raise MediaStoreUnavailable(f"unknown PYTAKE_MEDIA_STORE {kind!r}: use 'local'")


def inbound_key(organization_id: object, message_id: object) -> str:
    return f"{organization_id}/in/{message_id}"


def upload_key(organization_id: object, upload_id: object) -> str:
    return f"{organization_id}/up/{upload_id}"
