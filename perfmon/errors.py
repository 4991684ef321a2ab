"""The base of every error an action raises, with a message a user can read."""
from __future__ import annotations


class ActionError(Exception):
    """An action could not be done. `status_code` is what the API answers (400 for
    a request that cannot succeed as given, 409 for a conflict with current state);
    `code` is a stable machine-readable name; `fields` maps input fields to messages."""

    status_code = 400
    code = "action_failed"

    def __init__(self, message: str, *, code: str | None = None, status_code: int | None = None,
                 fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status_code:
            self.status_code = status_code
        self.fields = fields or {}


class ConflictError(ActionError):
    status_code = 409
    code = "conflict"


class PerfmonError(ActionError):
    code = "perfmon_error"
