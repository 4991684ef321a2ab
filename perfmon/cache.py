"""Cache backends that count their hits and misses against the current request.

Django's cache API has no signals, so perfmon cannot see a platform's cache reads
without either patching every backend (which we refuse to do) or being the backend.
These are Django's and django-redis's own backends with `get` and `get_many` counted;
choose one in CACHES and every read made while a request is being served shows up in
that request's route as cache hits and misses (the cache hit rate metric, the 80 %
target and the low-hit-rate recommendation):

    CACHES = {"default": {"BACKEND": "perfmon.cache.RedisCache", "LOCATION": "redis://..."}}

`get_or_set` and `get_many` count too (they read through `get`/`get_many`); `has_key`,
writes and deletes do not. A read outside a request (a Celery task, a command) is not
counted. A stored `None` counts as a miss, as does a read that django-redis answered
with `None` because Redis was down and `IGNORE_EXCEPTIONS` is on: neither can be told
from a miss by the caller either. The cost is one thread-local lookup per read.
"""
from __future__ import annotations

import threading
from typing import Any

from django.core.cache.backends import db, filebased, locmem, memcached, redis
from django_redis import cache as django_redis_cache

from .recorder import note_cache, note_cache_many

_MISSING = object()
_state = threading.local()  # inside a counted read: a backend's get may call its get_many or the reverse


class CountingMixin:
    """Counts `get` and `get_many` results as hits and misses of the current request;
    only the outermost of nested reads counts."""

    def get(self, key: Any, default: Any = None, version: int | None = None, **kwargs: Any) -> Any:
        if getattr(_state, "reading", False):
            return super().get(key, default, version=version, **kwargs)
        _state.reading = True
        try:
            value = super().get(key, _MISSING, version=version, **kwargs)
        finally:
            _state.reading = False
        if value is _MISSING or value is None:
            note_cache(False)
            return default if value is _MISSING else value
        note_cache(True)
        return value

    def get_many(self, keys: Any, version: int | None = None, **kwargs: Any) -> dict[Any, Any]:
        if getattr(_state, "reading", False):
            return super().get_many(keys, version=version, **kwargs)
        keys = list(keys)
        _state.reading = True
        try:
            found = super().get_many(keys, version=version, **kwargs)
        finally:
            _state.reading = False
        hits = sum(1 for value in found.values() if value is not None)
        note_cache_many(hits, len(keys) - hits)
        return found


class RedisCache(CountingMixin, django_redis_cache.RedisCache):
    """django-redis (`django_redis.cache.RedisCache`), counted."""


class DjangoRedisCache(CountingMixin, redis.RedisCache):
    """Django's own Redis backend (`django.core.cache.backends.redis.RedisCache`), counted."""


class LocMemCache(CountingMixin, locmem.LocMemCache):
    """Django's local-memory backend, counted."""


class FileBasedCache(CountingMixin, filebased.FileBasedCache):
    """Django's file backend, counted."""


class DatabaseCache(CountingMixin, db.DatabaseCache):
    """Django's database backend, counted."""


class PyMemcacheCache(CountingMixin, memcached.PyMemcacheCache):
    """Django's pymemcache backend, counted (needs pymemcache installed)."""
