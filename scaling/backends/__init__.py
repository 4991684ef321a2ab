"""Scaling backends, chosen by alias from SCALING_BACKENDS (dotted path + OPTIONS)."""
from __future__ import annotations

from perfmon.backends import BackendLoader

from ..conf import scaling_settings
from ..errors import BackendError
from .base import GroupSpec, HealthResult, InstanceInfo, ReplicaStatus, ScalingBackend, Usage

__all__ = ["GroupSpec", "HealthResult", "InstanceInfo", "ReplicaStatus", "ScalingBackend", "Usage",
           "get_backend", "backend_aliases"]

_loader = BackendLoader("SCALING_BACKENDS", lambda: scaling_settings.BACKENDS, ScalingBackend, BackendError,
                        reset_on={"SCALING_BACKENDS", "SCALING", "VAR_DIR"})
backend_aliases = _loader.aliases
get_backend = _loader.get
