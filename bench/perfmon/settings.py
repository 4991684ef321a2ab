"""The project's settings with the middleware under test chosen by BENCH_MODE:
bare (no request metrics), perfmon (the full perfmon middleware: metrics and
compression), prometheus (django-prometheus's before/after middleware).
BENCH_FLUSH_THREAD=false leaves the flusher thread off: the caller flushes
(run_instructions.py does, in its measured loop, so valgrind counts the flush)."""
import os

from config.settings.base import *  # noqa: F401,F403
from config.settings.base import INSTALLED_APPS, MIDDLEWARE

MODE = os.environ.get("BENCH_MODE", "perfmon")
_plain = [m for m in MIDDLEWARE if not m.startswith("perfmon.")]
if MODE == "bare":
    MIDDLEWARE = _plain
elif MODE == "perfmon":
    MIDDLEWARE = list(MIDDLEWARE)
elif MODE == "prometheus":
    INSTALLED_APPS = [*INSTALLED_APPS, "django_prometheus"]
    MIDDLEWARE = ["django_prometheus.middleware.PrometheusBeforeMiddleware", *_plain,
                  "django_prometheus.middleware.PrometheusAfterMiddleware"]
else:
    raise RuntimeError(f"BENCH_MODE must be bare, perfmon or prometheus, not {MODE!r}")

ROOT_URLCONF = "bench.perfmon.urls"
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}

if os.environ.get("BENCH_FLUSH_THREAD", "true") == "false":
    PERFMON = {**PERFMON, "FLUSH_THREAD": False}  # noqa: F405
