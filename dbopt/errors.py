"""Errors raised by dbopt actions, with messages a user can read."""
from __future__ import annotations

from perfmon.errors import ActionError


class DboptError(ActionError):
    code = "dbopt_error"


class UnknownDatabase(DboptError):
    code = "unknown_database"
    status_code = 404


class NotPostgres(DboptError):
    """The database is not PostgreSQL (the embedded SQLite default): dbopt cannot work on it."""

    code = "needs_postgresql"
    status_code = 409


class DatabaseUnreachable(DboptError):
    code = "database_unreachable"
    status_code = 409


class UnknownObject(DboptError):
    """A table or index that does not exist (any more)."""

    code = "unknown_object"
    status_code = 404


class ActionFailed(DboptError):
    code = "dbopt_action_failed"
    status_code = 409


class NotReadOnly(DboptError):
    code = "not_read_only"
