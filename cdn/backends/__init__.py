"""Invalidation backends, chosen by alias from CDN["BACKENDS"] (dotted path + OPTIONS)."""
from __future__ import annotations

import threading

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from ..conf import cdn_settings
from ..errors import InvalidationError
from .base import Batch, InvalidationBackend

__all__ = ["Batch", "InvalidationBackend", "backend_aliases", "get_backend"]

_cache: dict[str, InvalidationBackend] = {}
_lock = threading.Lock()


def backend_aliases() -> list[str]:
    return sorted(cdn_settings.BACKENDS)


def get_backend(alias: str = "default") -> InvalidationBackend:
    """The backend configured under `alias`, built once per process. Raises
    ImproperlyConfigured naming CDN['BACKENDS'] for a bad alias, path or option."""
    with _lock:
        if alias in _cache:
            return _cache[alias]
        config = cdn_settings.BACKENDS.get(alias)
        if not isinstance(config, dict) or "BACKEND" not in config:
            raise ImproperlyConfigured(f"CDN['BACKENDS'] has no backend {alias!r} (known: "
                                       f"{', '.join(backend_aliases()) or 'none'})")
        try:
            cls = import_string(config["BACKEND"])
        except ImportError as exc:
            raise ImproperlyConfigured(f"CDN['BACKENDS'][{alias!r}]['BACKEND']: cannot import "
                                       f"{config['BACKEND']!r} ({exc})") from exc
        if not (isinstance(cls, type) and issubclass(cls, InvalidationBackend)):
            raise ImproperlyConfigured(f"CDN['BACKENDS'][{alias!r}]['BACKEND']: {config['BACKEND']!r} "
                                       f"is not an InvalidationBackend")
        try:
            backend = cls(alias, config.get("OPTIONS") or {})
        except InvalidationError as exc:
            raise ImproperlyConfigured(f"CDN['BACKENDS'][{alias!r}]['OPTIONS']: {exc.message}") from exc
        _cache[alias] = backend
        return backend


@receiver(setting_changed)
def _reset(setting: str, **kwargs) -> None:
    if setting == "CDN":
        _cache.clear()
