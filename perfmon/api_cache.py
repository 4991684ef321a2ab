"""A read-through cache for the API's expensive reads, with ETags and conditional GET.

    read = read_through("perfmon.metrics", f"optimization:{window}", compute)
    return conditional_response(request, read)

Entries live in Django's cache under a per-scope version number; `invalidate(scope)`
bumps the version (the rollup does it when new rows land), so every entry of the
scope is stale at once on every process. The ETag is a hash of the JSON body,
computed once when the entry is filled; a matching If-None-Match gets 304 without
the read or the serialization. Hits and misses count in the request's metrics. If
the cache is down, reads are computed directly.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from rest_framework.response import Response

from .conf import perfmon_settings
from .recorder import note_cache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CachedRead:
    data: Any
    etag: str
    hit: bool


def etag_for(data: Any) -> str:
    body = json.dumps(data, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"))
    return '"' + hashlib.blake2b(body.encode(), digest_size=12).hexdigest() + '"'


def _version_key(scope: str) -> str:
    return f"perfmon:apicache:v:{scope}"


def _version(scope: str) -> int:
    key = _version_key(scope)
    version = cache.get(key)
    if version is None:
        cache.add(key, 1, None)
        version = cache.get(key) or 1
    return int(version)


def invalidate(scope: str) -> None:
    """Make every cached read of `scope` stale, on every process. Never raises."""
    key = _version_key(scope)
    try:
        try:
            cache.incr(key)
        except ValueError:  # not there yet (or evicted): any new value differs from the old entries'
            cache.add(key, 2, None)
            cache.incr(key)
    except Exception as exc:
        log.warning("perfmon: could not invalidate API cache scope %s: %s", scope, exc)


def read_through(scope: str, key: str, compute: Callable[[], Any], timeout: float | None = None) -> CachedRead:
    timeout = perfmon_settings.API_CACHE_SECONDS if timeout is None else timeout
    try:
        digest = hashlib.blake2b(key.encode(), digest_size=12).hexdigest()
        cache_key = f"perfmon:apicache:{scope}:{_version(scope)}:{digest}"
        found = cache.get(cache_key)
    except Exception as exc:
        log.warning("perfmon: API cache unavailable, computing %s directly: %s", key, exc)
        data = compute()
        return CachedRead(data, etag_for(data), False)
    note_cache(found is not None)
    if found is not None:
        return CachedRead(found["data"], found["etag"], True)
    data = compute()
    entry = {"data": data, "etag": etag_for(data)}
    try:
        cache.set(cache_key, entry, timeout)
    except Exception as exc:
        log.warning("perfmon: could not fill API cache for %s: %s", key, exc)
    return CachedRead(data, entry["etag"], False)


def _matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in header.split(","))


def conditional_response(request, read: CachedRead | None = None, data: Any = None) -> Response:
    """200 with the body and its ETag, or 304 when the client already has it."""
    if read is None:
        read = CachedRead(data, etag_for(data), False)
    header = request.headers.get("If-None-Match", "")
    if header and _matches(header, read.etag):
        response = Response(status=304)
    else:
        response = Response(read.data)
    response["ETag"] = read.etag
    response["Cache-Control"] = "private, no-cache"
    response["X-Cache"] = "hit" if read.hit else "miss"
    return response
