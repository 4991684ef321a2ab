"""Helpers for tests that need real services and real processes.

`need_postgres()` / `need_redis()` skip on a laptop without the service, and fail
under CI=true: in CI a skip for want of a service is a broken environment.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing service is a failure, not a skip)")
    pytest.skip(reason)


def need_postgres() -> None:
    if connection.vendor != "postgresql":
        skip_or_fail("needs PostgreSQL: set DATABASE_URL")


def need_redis() -> str:
    url = getattr(settings, "REDIS_URL", "")
    if not url:
        skip_or_fail("needs Redis: set REDIS_URL")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception as exc:
        skip_or_fail(f"needs Redis at {url}: {exc}")
    return url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """A URL for the database the tests are using right now (the test database)."""
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = db.get("USER") or "postgres"
        if db.get("PASSWORD"):
            auth += f":{db['PASSWORD']}"
        return f"postgresql://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    return f"sqlite:///{db['NAME']}"


def child_env(**overrides: str | None) -> dict[str, str]:
    """The environment for a child process of the product: production-style settings
    pointing at the same database and services as the test."""
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE"}}
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "SECRET_KEY": settings.SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "SECURE_HTTPS": "false",
        "DATABASE_URL": database_url(),
        "VAR_DIR": str(settings.VAR_DIR),
        "PYTHONUNBUFFERED": "1",
    })
    if getattr(settings, "REDIS_URL", ""):
        env["REDIS_URL"] = settings.REDIS_URL
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


class Process:
    """A child process with its output in a file, stopped with its whole group."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(args, env=env, cwd=str(ROOT), stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        if self.alive():
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(timeout=timeout)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=5)
        self.log.close()


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.2,
               message: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # the thing waited for may not be up yet
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}" +
                         (f" (last error: {last_error})" if last_error else ""))


def http_get(url: str, timeout: float = 5.0, headers: dict | None = None) -> tuple[int, bytes, dict]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


_static_root: Path | None = None


def collected_static() -> Path:
    """Static files collected once per test run, as a production server needs them
    (the manifest storage refuses to render a page otherwise)."""
    global _static_root
    if _static_root is None:
        import tempfile

        root = Path(tempfile.mkdtemp(prefix="cp-static-"))
        subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, check=True,
                       env=child_env(STATIC_ROOT=str(root)), timeout=300)
        _static_root = root
    return _static_root


def start_web(tmp_path: Path, env: dict[str, str], workers: int = 1,
              static: bool = True) -> tuple[Process, str]:
    """gunicorn with production settings. `static=False` skips collectstatic (tens of
    seconds) for tests that call only the API and probes, which render no static URLs."""
    if static:
        env = {**env, "STATIC_ROOT": str(collected_static())}  # the collected files, not the tests' empty root
    port = free_port()
    proc = Process([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "config" / "gunicorn.py"),
                    "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "config.wsgi:application"],
                   env, tmp_path / f"web-{port}.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_get(base + "/healthz")[0] == 200, 30, message=f"web server on {port}")
    except AssertionError:
        proc.stop()
        raise AssertionError(proc.output()[-3000:])
    return proc, base


def start_worker(tmp_path: Path, env: dict[str, str], queue: str, name: str, monkeypatch=None) -> Process:
    """A real worker consuming `queue`. With `monkeypatch`, tasks this test process sends
    without naming a queue go to that queue too (as an API view's would)."""
    from config.celery import app

    if monkeypatch is not None:
        monkeypatch.setitem(app.conf, "task_default_queue", queue)

    proc = Process([sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo",
                    "--queues", queue, "--hostname", f"{name}@%h", "--loglevel", "INFO",
                    "--without-gossip", "--without-mingle"], env, tmp_path / f"{name}.log")
    hostname = f"{name}@{socket.gethostname()}"
    try:
        wait_until(lambda: app.control.ping(destination=[hostname], timeout=0.5), 40,
                   message=f"Celery worker {hostname}")
    except AssertionError:
        proc.stop()
        raise AssertionError(proc.output()[-3000:])
    return proc
