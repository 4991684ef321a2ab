"""perfmon's settings: the PERFMON dict, with defaults (the DRF api_settings pattern)."""
from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "SLOW_QUERY_THRESHOLD_MS": 1000.0,
    "HIGH_CPU_THRESHOLD": 70.0,
    "HIGH_MEMORY_THRESHOLD": 80.0,
    "REDIS_ENABLED": False,
    "HOST_SAMPLE_INTERVAL": 15.0,
    "HOST_SAMPLE_RETENTION_DAYS": 7,
    "AUDIT_RETENTION_DAYS": 365,
}


class PerfmonSettings:
    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"PERFMON has no setting {name!r}")
        return getattr(settings, "PERFMON", {}).get(name, DEFAULTS[name])


perfmon_settings = PerfmonSettings()
