"""Where asset bytes live: Django's FileSystemStorage under MEDIA_ROOT by default, S3
through django-storages (boto3) with a custom domain when CDN S3_BUCKET is set.

Keys carry the content hash, so a key's bytes never change: writing a key that exists
is skipped, and every URL can be cached for a year (`immutable`)."""
from __future__ import annotations

import hashlib
import threading

from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage
from django.core.signals import setting_changed
from django.dispatch import receiver

from .conf import cdn_settings

IMMUTABLE = "public, max-age=31536000, immutable"

_lock = threading.Lock()
_storage: Storage | None = None


def get_storage() -> Storage:
    global _storage
    with _lock:
        if _storage is None:
            _storage = _build()
        return _storage


def _build() -> Storage:
    bucket = cdn_settings.S3_BUCKET
    if bucket:
        from storages.backends.s3 import S3Storage

        return S3Storage(bucket_name=bucket, custom_domain=cdn_settings.S3_CUSTOM_DOMAIN or None,
                         querystring_auth=False, file_overwrite=True,
                         object_parameters={"CacheControl": IMMUTABLE})
    return FileSystemStorage()


@receiver(setting_changed)
def _reset(setting: str, **kwargs) -> None:
    global _storage
    if setting in {"CDN", "MEDIA_ROOT", "MEDIA_URL", "STORAGES"}:
        _storage = None


def asset_dir(content_hash: str) -> str:
    return f"{cdn_settings.STORAGE_PREFIX}/{content_hash[:2]}/{content_hash}"


def variant_key(content_hash: str, stem: str, label: str, data: bytes, ext: str) -> str:
    """`cdn/ab/<asset hash>/<stem>-<label>.<8 hex of the variant's own bytes>.<ext>`."""
    digest = hashlib.sha256(data).hexdigest()[:8]
    return f"{asset_dir(content_hash)}/{stem}-{label}.{digest}.{ext}"


def put(key: str, data: bytes) -> bool:
    """Write `data` at exactly `key`; False when it was already there (same content)."""
    storage = get_storage()
    if storage.exists(key):
        return False
    saved = storage.save(key, ContentFile(data))
    if saved != key:  # a race wrote the same content-addressed key first
        storage.delete(saved)
        return False
    return True


def read(key: str) -> bytes:
    with get_storage().open(key, "rb") as fh:
        return fh.read()


def delete(keys: list[str]) -> None:
    storage = get_storage()
    for key in keys:
        if storage.exists(key):
            storage.delete(key)
