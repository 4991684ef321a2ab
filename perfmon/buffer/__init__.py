"""The buffer between the processes that count and the rollup that stores.

`get_buffer()` picks it from PERFMON["METRICS_BUFFER"]: a redis:// URL, "database",
or "" (Redis when REDIS_URL is set, else the database). Both implement
`perfmon.buffer.base.MetricsBuffer`.
"""
from __future__ import annotations

import threading

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from ..conf import perfmon_settings
from .base import BufferUnavailable, MetricsBuffer, Pending

_lock = threading.Lock()
_buffer: MetricsBuffer | None = None


def buffer_location() -> str:
    configured = perfmon_settings.METRICS_BUFFER or ""
    if configured:
        return configured
    return getattr(settings, "REDIS_URL", "") or "database"


def get_buffer() -> MetricsBuffer:
    global _buffer
    if _buffer is None:
        with _lock:
            if _buffer is None:
                _buffer = _build(buffer_location())
    return _buffer


def _build(location: str) -> MetricsBuffer:
    if location == "database":
        from .database import DatabaseBuffer

        return DatabaseBuffer()
    if location.startswith(("redis://", "rediss://", "unix://")):
        from .redis import RedisBuffer

        return RedisBuffer(location, prefix=perfmon_settings.METRICS_KEY_PREFIX,
                           timeout=float(perfmon_settings.BUFFER_TIMEOUT_SECONDS))
    raise ImproperlyConfigured(f"PERFMON['METRICS_BUFFER'] must be a redis:// URL or 'database', got {location!r}")


def reset_buffer() -> None:
    global _buffer
    with _lock:
        _buffer = None


def _on_setting_changed(setting, **kwargs) -> None:
    if setting in {"PERFMON", "REDIS_URL"}:
        from ..recorder import get_recorder

        reset_buffer()
        get_recorder().configure()


setting_changed.connect(_on_setting_changed)

__all__ = ["get_buffer", "reset_buffer", "buffer_location", "MetricsBuffer", "BufferUnavailable", "Pending"]
