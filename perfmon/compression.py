"""Response compression: brotli or gzip, chosen by Accept-Encoding, for bodies over
a minimum size with an allowed content type, never for what is already encoded
or streamed. Bytes saved count in the request's metrics.

HTML (which may carry CSRF tokens next to reflected input) gets gzip with Django's
random padding against BREACH, never brotli; other types may get brotli.
"""
from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.utils.cache import patch_vary_headers
from django.utils.text import compress_string

from .conf import perfmon_settings
from .recorder import note_bytes_saved

try:
    import brotli
except ImportError:  # brotli is a dependency; without it, gzip only
    brotli = None


def accepted(header: str) -> dict[str, float]:
    """Accept-Encoding as {coding: q}; codings with q=0 are refused."""
    codings: dict[str, float] = {}
    for item in header.split(",")[:20]:
        name, _, params = item.strip().partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        if name:
            codings[name.strip().lower()] = q
    return codings


class CompressionMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self._async:
            return self._acall(request)
        return self._compressed(request, self.get_response(request))

    async def _acall(self, request):
        return self._compressed(request, await self.get_response(request))

    def _compressed(self, request, response):
        try:
            return self.compress(request, response)
        except Exception:  # compression is an optimization: never fail the response for it
            return response

    def compress(self, request, response):
        # Cheapest test first: most responses of a busy API are small, and this runs on every one.
        if response.streaming:
            return response
        content = response.content
        if len(content) < perfmon_settings.COMPRESS_MIN_BYTES or response.has_header("Content-Encoding") or \
                response.status_code in (204, 206, 304):
            return response
        content_type = response.get("Content-Type", "").lower()
        if not content_type.startswith(tuple(perfmon_settings.COMPRESS_TYPES)):
            return response
        patch_vary_headers(response, ("Accept-Encoding",))
        codings = accepted(request.META.get("HTTP_ACCEPT_ENCODING", ""))
        html = content_type.startswith("text/html")
        if brotli is not None and not html and codings.get("br", 0) > 0:
            encoding, body = "br", brotli.compress(content, quality=int(perfmon_settings.BROTLI_QUALITY))
        elif codings.get("gzip", 0) > 0 or (codings.get("*", 0) > 0 and "gzip" not in codings):
            encoding, body = "gzip", compress_string(content, max_random_bytes=100 if html else 0)
        else:
            return response
        if len(body) >= len(content):
            return response
        response.content = body
        response["Content-Length"] = str(len(body))
        response["Content-Encoding"] = encoding
        etag = response.get("ETag")
        if etag and etag.startswith('"'):
            response["ETag"] = "W/" + etag  # the representation changed; weak comparison still matches
        note_bytes_saved(len(content) - len(body))
        return response
