"""Errors raised by scaling actions, with messages a user can read."""
from __future__ import annotations

from perfmon.errors import ActionError


class ScalingError(ActionError):
    code = "scaling_error"


class UnknownGroup(ScalingError):
    code = "unknown_group"
    status_code = 404


class OutOfBounds(ScalingError):
    code = "out_of_bounds"


class BackendError(ScalingError):
    """The backend could not do what was asked (process failed to start, API refused)."""

    code = "backend_error"
    status_code = 409


class TraceError(ScalingError):
    code = "bad_trace"
