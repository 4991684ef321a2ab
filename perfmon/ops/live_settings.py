"""Settings that admins change without a restart.

Defaults come from the environment (the original design's variables, read once in
config/settings/base.py); an admin's override is a `LiveSetting` row. Every process
keeps a snapshot and, at most once a second, compares a version number kept in the
shared cache; a change bumps the version, so every web process and worker sees it
within about a second. If the cache is unreachable, processes re-read the table
every few seconds instead.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.core.cache import cache

from perfmon.recorder import not_counted

VERSION_KEY = "cp:live-settings:version"
CHECK_INTERVAL = 1.0
FALLBACK_INTERVAL = 5.0


@dataclass(frozen=True)
class Spec:
    section: str
    key: str
    kind: type
    description: str
    unit: str = ""
    min_value: float | None = None
    max_value: float | None = None
    default: Any = None  # used when the settings section does not carry the key

    def env_default(self) -> Any:
        return getattr(settings, self.section, {}).get(self.key, self.default) if self.section else self.default

    def validate(self, value: Any) -> Any:
        """The value converted to its kind, or ValueError with a readable message."""
        if self.kind is bool:
            if isinstance(value, bool):
                return value
            raise ValueError("must be true or false")
        if self.kind in (int, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError("must be a number")
            if self.kind is int and float(value) != int(value):
                raise ValueError("must be a whole number")
            value = self.kind(value)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError("must be a finite number")
            if self.min_value is not None and value < self.min_value:
                raise ValueError(f"must be at least {self.min_value:g}")
            if self.max_value is not None and value > self.max_value:
                raise ValueError(f"must be at most {self.max_value:g}")
            return value
        if not isinstance(value, str):
            raise ValueError("must be a string")
        if self.key == "BASE_URL" and value:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("must be an http:// or https:// URL")
        return value.strip()


SPECS: dict[str, Spec] = {
    "SLOW_QUERY_THRESHOLD": Spec("PERFMON", "SLOW_QUERY_THRESHOLD_MS", float, "queries slower than this are slow",
                                 "ms", 0, 3_600_000),
    "HIGH_CPU_THRESHOLD": Spec("PERFMON", "HIGH_CPU_THRESHOLD", float, "CPU above this is high", "%", 0, 100),
    "HIGH_MEMORY_THRESHOLD": Spec("PERFMON", "HIGH_MEMORY_THRESHOLD", float, "memory above this is high", "%", 0, 100),
    "API_RESPONSE_TARGET": Spec("", "", float, "average API response target", "ms", 1, 600_000, default=200.0),
    "CACHE_HIT_RATE_TARGET": Spec("", "", float, "cache hit rate target (share of lookups)", "ratio", 0, 1,
                                  default=0.8),
    "POOL_USAGE_THRESHOLD": Spec("", "", float, "connection pool use above this is high", "%", 0, 100, default=75.0),
    "CDN_MISS_RATE_THRESHOLD": Spec("", "", float, "CDN miss rate above this is high (share of requests)",
                                    "ratio", 0, 1, default=0.2),
    "AUTO_SCALING_ENABLED": Spec("SCALING", "AUTO_SCALING_ENABLED", bool, "the autoscaler acts"),
    "MIN_INSTANCES": Spec("SCALING", "MIN_INSTANCES", int, "fewest instances per group", "", 0, 1000),
    "MAX_INSTANCES": Spec("SCALING", "MAX_INSTANCES", int, "most instances per group", "", 1, 1000),
    "SCALING_COOLDOWN": Spec("SCALING", "COOLDOWN_MS", int, "pause between scaling actions", "ms", 0, 86_400_000),
    "CDN_ENABLED": Spec("CDN", "ENABLED", bool, "serve assets from the CDN"),
    "CDN_BASE_URL": Spec("CDN", "BASE_URL", str, "the CDN's base URL"),
    "ALERT_REPEAT_INTERVAL": Spec("", "", int, "resend a firing alert this often", "s", 60, 7 * 86400,
                                  default=4 * 3600),
}


def cross_field_errors(values: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if values["MIN_INSTANCES"] > values["MAX_INSTANCES"]:
        errors["MIN_INSTANCES"] = [f"must not be above MAX_INSTANCES ({values['MAX_INSTANCES']})"]
    if values["CDN_ENABLED"] and not values["CDN_BASE_URL"]:
        errors["CDN_BASE_URL"] = ["is required while CDN_ENABLED is true"]
    return errors


class _Snapshot:
    def __init__(self) -> None:
        self.values: dict[str, Any] | None = None
        self.version: Any = None
        self.checked = 0.0
        self.loaded = 0.0
        self.lock = threading.Lock()

    def current(self) -> dict[str, Any]:
        now = time.monotonic()
        if self.values is not None and now - self.checked < CHECK_INTERVAL:
            return self.values
        with self.lock:
            if self.values is not None and now - self.checked < CHECK_INTERVAL:
                return self.values
            self.checked = now
            with not_counted():  # the platform's cache and database, but not its request's reads
                try:
                    version = cache.get(VERSION_KEY)
                    stale = self.values is None or version != self.version
                except Exception:  # cache down: fall back to the table, less often
                    version, stale = self.version, self.values is None or now - self.loaded > FALLBACK_INTERVAL
                if stale:
                    self.values, self.version, self.loaded = _load(), version, now
            return self.values

    def invalidate(self) -> None:
        with self.lock:
            self.values = None


_snapshot = _Snapshot()


def _load() -> dict[str, Any]:
    values = {name: spec.env_default() for name, spec in SPECS.items()}
    if not apps.is_installed("perfmon.ops"):  # a platform that added only perfmon's middleware
        return values
    from .models import LiveSetting

    try:
        values.update(LiveSetting.objects.filter(name__in=list(SPECS)).values_list("name", "value"))
    except Exception:  # table not migrated yet (first start), or no database here: the environment's values stand
        pass
    return values


def get(name: str) -> Any:
    if name not in SPECS:
        raise KeyError(f"no live setting named {name!r}")
    return _snapshot.current()[name]


def effective() -> dict[str, Any]:
    return dict(_snapshot.current())


_BY_SECTION: dict[tuple[str, str], str] = {(spec.section, spec.key): name
                                           for name, spec in SPECS.items() if spec.section}


def for_section(section: str, key: str, default: Any) -> Any:
    """The effective value of SECTION[KEY] (what conf modules call, on the request path);
    `default` (the app's own) when neither the settings nor an admin set it."""
    name = _BY_SECTION.get((section, key))
    if name is None:
        return default
    value = _snapshot.current()[name]
    return default if value is None else value


def bump_version() -> None:
    _snapshot.invalidate()
    try:
        cache.set(VERSION_KEY, time.time_ns(), timeout=None)
    except Exception:
        pass  # other processes fall back to re-reading the table within FALLBACK_INTERVAL
