"""Leases: at most one holder of a name across processes and hosts.

Used by the beat singleton and by anything else that must run in one place at a
time (the autoscaler tick). The backend follows the deployment: Redis when
Redis is configured (a key with a token and a TTL, renewed by the holder),
a PostgreSQL session advisory lock when only PostgreSQL is, and an flock on a
local file in the embedded default (all processes are on one machine there).
"""
from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
from pathlib import Path

from django.conf import settings

log = logging.getLogger(__name__)

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class Lease:
    """A named lease. `acquire()` never blocks; `renew()` says whether it is still held."""

    def __init__(self, name: str, ttl_seconds: float = 30.0):
        self.name = name
        self.ttl_seconds = ttl_seconds
        self.held = False

    def acquire(self) -> bool:
        raise NotImplementedError

    def renew(self) -> bool:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> "Lease":
        return self

    def __exit__(self, *exc) -> None:
        if self.held:
            self.release()

    @property
    def holder_id(self) -> str:
        return f"{socket.gethostname()}:{os.getpid()}"


class RedisLease(Lease):
    def __init__(self, name: str, ttl_seconds: float = 30.0, url: str | None = None):
        super().__init__(name, ttl_seconds)
        import redis

        self.client = redis.Redis.from_url(url or settings.REDIS_URL, socket_timeout=2,
                                           socket_connect_timeout=2)
        self.key = f"cp:lease:{name}"
        self.token = f"{self.holder_id}:{secrets.token_hex(8)}"

    def acquire(self) -> bool:
        try:
            self.held = bool(self.client.set(self.key, self.token, nx=True,
                                             px=int(self.ttl_seconds * 1000)))
        except Exception as exc:  # Redis down: nobody can prove they hold it, so don't.
            log.warning("lease %s: Redis unavailable (%s)", self.name, exc)
            self.held = False
        return self.held

    def renew(self) -> bool:
        if not self.held:
            return False
        try:
            self.held = bool(self.client.eval(_RENEW, 1, self.key, self.token,
                                              int(self.ttl_seconds * 1000)))
        except Exception as exc:
            log.warning("lease %s: renew failed (%s)", self.name, exc)
            self.held = False
        return self.held

    def release(self) -> None:
        try:
            self.client.eval(_RELEASE, 1, self.key, self.token)
        except Exception as exc:
            log.warning("lease %s: release failed (%s); it expires in %ss", self.name, exc, self.ttl_seconds)
        self.held = False

    def current_holder(self) -> str | None:
        value = self.client.get(self.key)
        return value.decode() if value else None


class PostgresAdvisoryLease(Lease):
    """A session advisory lock on a connection of its own, so Django's transactions
    and connection recycling never release it by accident."""

    def __init__(self, name: str, ttl_seconds: float = 30.0):
        super().__init__(name, ttl_seconds)
        digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
        self.key = int.from_bytes(digest, "big", signed=True)
        self.conn = None

    def _connect(self):
        import psycopg

        db = settings.DATABASES["default"]
        return psycopg.connect(host=db.get("HOST") or None, port=db.get("PORT") or None,
                               dbname=db["NAME"], user=db.get("USER") or None,
                               password=db.get("PASSWORD") or None, autocommit=True,
                               connect_timeout=5, application_name=f"lease:{self.name}")

    def acquire(self) -> bool:
        try:
            if self.conn is None or self.conn.closed:
                self.conn = self._connect()
            row = self.conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
            self.held = bool(row and row[0])
        except Exception as exc:
            log.warning("lease %s: PostgreSQL unavailable (%s)", self.name, exc)
            self._drop()
        return self.held

    def renew(self) -> bool:
        if not self.held or self.conn is None:
            return False
        try:
            self.conn.execute("SELECT 1")
        except Exception:
            self._drop()
        return self.held

    def release(self) -> None:
        if self.conn is not None and not self.conn.closed:
            try:
                self.conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
            except Exception:
                pass
        self._drop()

    def _drop(self) -> None:
        self.held = False
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
        self.conn = None


class FileLease(Lease):
    """flock on a file under VAR_DIR; the kernel releases it when the process dies."""

    def __init__(self, name: str, ttl_seconds: float = 30.0, directory: Path | None = None):
        super().__init__(name, ttl_seconds)
        directory = Path(directory or Path(settings.VAR_DIR) / "locks")
        directory.mkdir(parents=True, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        self.path = directory / f"{safe}.lock"
        self.fd: int | None = None

    def acquire(self) -> bool:
        import fcntl

        if self.held:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, self.holder_id.encode())
        self.fd, self.held = fd, True
        return True

    def renew(self) -> bool:
        return self.held

    def release(self) -> None:
        import fcntl

        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
        self.fd, self.held = None, False


def get_lease(name: str, ttl_seconds: float = 30.0) -> Lease:
    """The lease that fits this deployment: Redis, else PostgreSQL, else a local file."""
    if getattr(settings, "REDIS_URL", ""):
        return RedisLease(name, ttl_seconds)
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        return PostgresAdvisoryLease(name, ttl_seconds)
    return FileLease(name, ttl_seconds)
