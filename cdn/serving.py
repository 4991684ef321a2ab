"""Asset URLs for a viewer: the CDN base URL of the viewer's region, the default CDN
base URL, or this server's own file view when CDN_ENABLED is off."""
from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from .conf import cdn_settings
from .storage import get_storage


def viewer_region(request: HttpRequest | None) -> str:
    if request is None:
        return ""
    return (request.headers.get(cdn_settings.REGION_HEADER) or "").strip().upper()[:16]


def base_url(request: HttpRequest | None = None) -> str | None:
    """The CDN base URL for this viewer, or None when the CDN is off."""
    if not cdn_settings.ENABLED:
        return None
    regional = cdn_settings.REGIONAL_BASE_URLS
    region = viewer_region(request)
    return (regional.get(region) or cdn_settings.BASE_URL).rstrip("/")


def url_for(key: str, request: HttpRequest | None = None) -> str:
    base = base_url(request)
    if base:
        return f"{base}/{key}"
    storage = get_storage()
    if cdn_settings.S3_BUCKET:
        return storage.url(key)  # the bucket's custom domain
    return reverse("cdn-file", kwargs={"key": key})
