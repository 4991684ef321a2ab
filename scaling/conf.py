"""scaling's settings: the SCALING dict and SCALING_BACKENDS, with defaults (the DRF api_settings pattern)."""
from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "AUTO_SCALING_ENABLED": True,
    "MIN_INSTANCES": 1,
    "MAX_INSTANCES": 10,
    # The original design's single cooldown, in milliseconds: the quiet time after a
    # scale event before the group may scale down.
    "COOLDOWN_MS": 300_000,
    "TICK_SECONDS": 15,
    "LEASE_TTL_SECONDS": 120.0,
    "HEALTH_TIMEOUT_SECONDS": 2.0,
    "WARMUP_SECONDS": 30,
    # Consecutive failed health checks before a ready instance is replaced.
    "UNHEALTHY_AFTER": 2,
    # How long an instance may stay "starting" before it counts as failed.
    "STARTUP_TIMEOUT_SECONDS": 60.0,
    # Load history kept per group for the predictive policy (seasonality needs > 1 day).
    "HISTORY_DAYS": 8,
    # The group whose requests perfmon's middleware measures (the platform's web tier),
    # and the window its request rate and latency are read over.
    "TRAFFIC_GROUP": "web",
    "TRAFFIC_WINDOW_SECONDS": 120,
}

DEFAULT_BACKENDS: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "scaling.backends.process.ProcessBackend", "OPTIONS": {}},
}


class ScalingSettings:
    def __getattr__(self, name: str) -> Any:
        if name == "BACKENDS":
            return getattr(settings, "SCALING_BACKENDS", None) or DEFAULT_BACKENDS
        if name not in DEFAULTS:
            raise AttributeError(f"SCALING has no setting {name!r}")
        return getattr(settings, "SCALING", {}).get(name, DEFAULTS[name])


scaling_settings = ScalingSettings()
