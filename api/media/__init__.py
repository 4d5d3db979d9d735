"""Media files: customers' media fetched from Meta, agents' uploads, the store that keeps both."""

from api.media.inbound import fetch_inbound_media
from api.media.store import LocalMediaStore, MediaStoreUnavailable, inbound_key, media_store, upload_key
from api.media.uploads import UPLOAD_TTL, UploadRefused, save_upload, take_upload, upload_redis_key, upload_to_meta

__all__ = ["UPLOAD_TTL", "LocalMediaStore", "MediaStoreUnavailable", "UploadRefused", "fetch_inbound_media",
           "inbound_key", "media_store", "save_upload", "take_upload", "upload_key", "upload_redis_key",
           "upload_to_meta"]
