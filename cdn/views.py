"""Serves stored asset files from this server (the CDN's origin, and the local serving
used when CDN_ENABLED is off), with immutable caching and precompressed copies."""
from __future__ import annotations

import mimetypes
import re

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.views.decorators.http import require_safe

from .conf import cdn_settings
from .storage import IMMUTABLE, get_storage

_KEY = re.compile(r"^[A-Za-z0-9._/-]+$")


@require_safe
def serve_file(request: HttpRequest, key: str) -> HttpResponse:
    if not _KEY.match(key) or ".." in key.split("/") or not key.startswith(cdn_settings.STORAGE_PREFIX + "/"):
        raise Http404("No such asset file.")
    storage = get_storage()
    if not storage.exists(key):
        raise Http404("No such asset file.")
    etag = f'"{key.rsplit("/", 2)[-2][:16]}-{key.rsplit("/", 1)[-1]}"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponseNotModified()
        response["ETag"], response["Cache-Control"] = etag, IMMUTABLE
        return response
    served, encoding = key, None
    accept = request.headers.get("Accept-Encoding", "")
    for enc, suffix in (("br", ".br"), ("gzip", ".gz")):
        if enc in accept and storage.exists(key + suffix):
            served, encoding = key + suffix, enc
            break
    content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
    if key.endswith(".avif"):
        content_type = "image/avif"
    response = FileResponse(storage.open(served, "rb"), content_type=content_type)
    response["Cache-Control"] = IMMUTABLE
    response["ETag"] = etag
    response["Vary"] = "Accept-Encoding"
    response["X-Content-Type-Options"] = "nosniff"
    if encoding:
        response["Content-Encoding"] = encoding
    if content_type == "image/svg+xml":
        # Uploads with script are refused; this keeps an SVG opened directly inert anyway.
        response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    return response
