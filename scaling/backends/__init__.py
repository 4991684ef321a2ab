"""Scaling backends, chosen by alias from SCALING_BACKENDS (dotted path + OPTIONS)."""
from __future__ import annotations

import threading

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from ..conf import scaling_settings
from ..errors import BackendError
from .base import GroupSpec, HealthResult, InstanceInfo, ReplicaStatus, ScalingBackend, Usage

__all__ = ["GroupSpec", "HealthResult", "InstanceInfo", "ReplicaStatus", "ScalingBackend", "Usage",
           "get_backend", "backend_aliases"]

_cache: dict[str, ScalingBackend] = {}
_lock = threading.Lock()


def backend_aliases() -> list[str]:
    return sorted(scaling_settings.BACKENDS)


def get_backend(alias: str = "default") -> ScalingBackend:
    """The backend configured under `alias`, built once per process.
    Raises ImproperlyConfigured naming SCALING_BACKENDS for a bad alias, path or option."""
    with _lock:
        if alias in _cache:
            return _cache[alias]
        config = scaling_settings.BACKENDS.get(alias)
        if not isinstance(config, dict) or "BACKEND" not in config:
            raise ImproperlyConfigured(f"SCALING_BACKENDS has no backend {alias!r} (known: "
                                       f"{', '.join(backend_aliases()) or 'none'})")
        try:
            cls = import_string(config["BACKEND"])
        except ImportError as exc:
            raise ImproperlyConfigured(f"SCALING_BACKENDS[{alias!r}]['BACKEND']: cannot import "
                                       f"{config['BACKEND']!r} ({exc})") from exc
        if not (isinstance(cls, type) and issubclass(cls, ScalingBackend)):
            raise ImproperlyConfigured(f"SCALING_BACKENDS[{alias!r}]['BACKEND']: {config['BACKEND']!r} "
                                       f"is not a ScalingBackend")
        try:
            backend = cls(alias, config.get("OPTIONS") or {})
        except BackendError as exc:
            raise ImproperlyConfigured(f"SCALING_BACKENDS[{alias!r}]['OPTIONS']: {exc.message}") from exc
        _cache[alias] = backend
        return backend


@receiver(setting_changed)
def _reset(setting: str, **kwargs) -> None:
    if setting in {"SCALING_BACKENDS", "SCALING", "VAR_DIR"}:
        _cache.clear()
