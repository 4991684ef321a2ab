"""Connections to monitored databases: plain psycopg, autocommit, guarded by timeouts.

dbopt never uses Django's connection for its work: CREATE INDEX CONCURRENTLY cannot
run in a transaction, hypothetical indexes live in one session, and a monitored
database may be any server. Credentials stay inside the conninfo; error messages
are scrubbed of them before they are stored or shown.
"""
from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

import psycopg
from django.db import connections

from .conf import dbopt_settings
from .errors import DatabaseUnreachable, NotPostgres, UnknownDatabase
from .models import MonitoredDatabase, redact_url


def conninfo(db: MonitoredDatabase) -> dict:
    """psycopg.connect() keyword arguments for a monitored database."""
    if db.alias:
        if db.alias not in connections.settings:
            raise UnknownDatabase(f"database {db.name}: settings.DATABASES has no alias {db.alias!r}")
        settings_dict = connections[db.alias].settings_dict
        if "postgresql" not in settings_dict["ENGINE"]:
            raise NotPostgres(f"database {db.name} ({settings_dict['ENGINE'].rsplit('.', 1)[-1]}) is not "
                              "PostgreSQL: dbopt needs PostgreSQL (set DATABASE_URL=postgresql://...)")
        kwargs = {"dbname": settings_dict["NAME"], "user": settings_dict.get("USER") or None,
                  "password": settings_dict.get("PASSWORD") or None, "host": settings_dict.get("HOST") or None,
                  "port": settings_dict.get("PORT") or None}
        options = settings_dict.get("OPTIONS", {})
        for key in ("sslmode", "sslrootcert", "sslcert", "sslkey"):
            if key in options:
                kwargs[key] = options[key]
    else:
        kwargs = parse_url(db.url)
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    kwargs["connect_timeout"] = int(dbopt_settings.CONNECT_TIMEOUT_SECONDS)
    kwargs["application_name"] = "controlplane-dbopt"
    return kwargs


def parse_url(url: str) -> dict:
    """postgresql://user:password@host:port/dbname?sslmode=... -> connect() kwargs; a
    clear error (without the password) for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnknownDatabase(f"{redact_url(url)} is not a valid database URL ({exc})") from None
    if parts.scheme not in ("postgres", "postgresql") or not parts.hostname or not parts.path.strip("/"):
        raise NotPostgres(f"{redact_url(url)} is not a PostgreSQL URL like postgresql://user@host:5432/dbname")
    kwargs = {"host": parts.hostname, "port": port, "dbname": unquote(parts.path.lstrip("/")),
              "user": unquote(parts.username) if parts.username else None,
              "password": unquote(parts.password) if parts.password else None}
    for item in filter(None, parts.query.split("&")):
        key, _, value = item.partition("=")
        if key in ("sslmode", "sslrootcert", "sslcert", "sslkey", "options"):
            kwargs[key] = unquote(value)
    return kwargs


def scrub(message: str, db: MonitoredDatabase | None = None) -> str:
    """An error message with no password in it (psycopg may echo the conninfo)."""
    text = re.sub(r"password=\S+", "password=***", str(message))
    text = re.sub(r"(postgres(?:ql)?://[^:/@\s]*):[^@\s]*@", r"\1:***@", text)
    if db is not None and db.url:
        password = urlsplit(db.url).password
        if password:
            text = text.replace(password, "***").replace(unquote(password), "***")
    return text.strip()


@contextlib.contextmanager
def connect(db: MonitoredDatabase, *, statement_timeout_ms: int | None = None) -> Iterator[psycopg.Connection]:
    """An autocommit connection to `db`; raises DatabaseUnreachable (scrubbed) if it cannot connect."""
    kwargs = conninfo(db)
    timeout = statement_timeout_ms if statement_timeout_ms is not None else dbopt_settings.STATEMENT_TIMEOUT_MS
    kwargs["options"] = (kwargs.get("options", "") + f" -c statement_timeout={int(timeout)}").strip()
    try:
        # No automatic server-side prepared statements: the advisor PREPAREs its own.
        conn = psycopg.connect(autocommit=True, prepare_threshold=None, **kwargs)
    except psycopg.Error as exc:
        raise DatabaseUnreachable(f"database {db.name} ({db.display_target}) is unreachable: "
                                  f"{scrub(exc, db)}") from None
    try:
        yield conn
    finally:
        conn.close()
