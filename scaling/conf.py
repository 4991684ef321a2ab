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


# Settings an admin may change at run time (PUT /api/performance/settings): read through
# perfmon's live settings, so every process sees a change within about a second.
LIVE = {"AUTO_SCALING_ENABLED", "MIN_INSTANCES", "MAX_INSTANCES", "COOLDOWN_MS"}


class ScalingSettings:
    def __getattr__(self, name: str) -> Any:
        if name == "BACKENDS":
            return getattr(settings, "SCALING_BACKENDS", None) or DEFAULT_BACKENDS
        if name not in DEFAULTS:
            raise AttributeError(f"SCALING has no setting {name!r}")
        default = getattr(settings, "SCALING", {}).get(name, DEFAULTS[name])
        if name in LIVE:
            from perfmon.ops import live_settings

            return live_settings.for_section("SCALING", name, default)
        return default


scaling_settings = ScalingSettings()
