"""Readiness checks of the services the product depends on, each with its latency.

A check never raises: it returns a `ComponentStatus` whose `error` says what failed
in words an operator can act on. Every check has a short timeout so a dead
dependency makes readiness fail fast instead of hanging the probe.
"""
from __future__ import annotations

import os
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.db import connection

TIMEOUT_SECONDS = 1.5


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    backend: str
    ok: bool
    latency_ms: float
    error: str = ""
    detail: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def _timed(name: str, backend: str, probe) -> ComponentStatus:
    started = time.perf_counter()
    try:
        detail = probe() or ""
        ok, error = True, ""
    except Exception as exc:  # a check reports, it never raises
        detail, ok, error = "", False, f"{backend}: {exc}".strip()
    return ComponentStatus(name=name, backend=backend, ok=ok, error=error, detail=str(detail),
                           latency_ms=round((time.perf_counter() - started) * 1000, 2))


def _redact(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}" if host else f"{parts.scheme}://"


def check_database() -> ComponentStatus:
    def probe():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return connection.settings_dict.get("HOST") or connection.settings_dict.get("NAME")

    status = _timed("database", connection.vendor, probe)
    if not status.ok:
        connection.close_if_unusable_or_obsolete()
    return status


def _cache_backend_name() -> str:
    backend = settings.CACHES["default"]["BACKEND"]
    return "redis" if "redis" in backend.lower() else backend.rsplit(".", 2)[-2]


def check_cache() -> ComponentStatus:
    def probe():
        if _cache_backend_name() == "redis":
            # The cache swallows Redis errors (a dead Redis is a miss for requests);
            # readiness asks the server itself, so the error names it.
            from django_redis import get_redis_connection

            get_redis_connection("default").ping()
        key, value = f"readyz:{uuid.uuid4().hex}", uuid.uuid4().hex
        cache.set(key, value, timeout=10)
        if cache.get(key) != value:
            raise RuntimeError("a value written could not be read back")
        cache.delete(key)

    return _timed("cache", _cache_backend_name(), probe)


def check_broker() -> ComponentStatus:
    url = settings.CELERY_BROKER_URL
    scheme = urlsplit(url).scheme

    def probe_redis():
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT_SECONDS,
                             socket_timeout=TIMEOUT_SECONDS).ping()
        return _redact(url)

    def probe_amqp():
        from kombu import Connection

        with Connection(url, connect_timeout=TIMEOUT_SECONDS) as conn:
            conn.ensure_connection(max_retries=1, timeout=TIMEOUT_SECONDS)
        return _redact(url)

    def probe_filesystem():
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        for key in ("data_folder_in", "data_folder_out", "control_folder"):
            folder = Path(options[key])
            if not folder.is_dir() or not os.access(folder, os.W_OK):
                raise RuntimeError(f"queue folder {folder} is missing or not writable")
        return options["data_folder_in"]

    probes = {"redis": probe_redis, "rediss": probe_redis, "amqp": probe_amqp, "amqps": probe_amqp,
              "filesystem": probe_filesystem}
    backend = "redis" if scheme.startswith("redis") else scheme
    probe = probes.get(scheme)
    if probe is None:
        return ComponentStatus("broker", backend, False, 0.0, f"no readiness check for broker scheme {scheme!r}")
    return _timed("broker", backend, probe)


def check_workers(timeout: float = 1.0) -> ComponentStatus:
    """Celery workers answering a remote-control ping (not part of readiness: a web
    process is ready to serve even while the workers restart)."""
    from config.celery import app

    def probe():
        replies = app.control.ping(timeout=timeout) or []
        names = sorted(name for reply in replies for name in reply)
        if not names:
            raise RuntimeError("no Celery worker answered a ping")
        return ", ".join(names)

    return _timed("workers", "celery", probe)


def readiness() -> list[ComponentStatus]:
    return [check_database(), check_cache(), check_broker()]
