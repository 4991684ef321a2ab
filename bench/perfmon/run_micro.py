"""In-process CPU cost of the perfmon middleware per request and per query, without a
server or a load generator in the way (process CPU time over many calls).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/cp_perfmon_bench \
    REDIS_URL=redis://127.0.0.1:6379/2 .venv/bin/python bench/perfmon/run_micro.py

Compares, on the same request objects: the bare view; the perfmon middleware around
it; django-prometheus's before/after middleware around it. The three-query view runs
`SELECT 1` three times on a real PostgreSQL connection.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.perfmon.settings")
os.environ.setdefault("BENCH_MODE", "perfmon")
os.environ.setdefault("SECRET_KEY", "bench-" + "k3y!Q9#zL7$wX2%" * 4)
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
os.environ.setdefault("SECURE_HTTPS", "false")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import RequestFactory  # noqa: E402
from django.urls import resolve  # noqa: E402


def view_for(queries: int):
    match = resolve("/bench/trivial")

    def view(request):
        request.resolver_match = match
        if queries:
            with connection.cursor() as cursor:
                for _ in range(queries):
                    cursor.execute("SELECT 1")
        return HttpResponse(b"ok", content_type="text/plain")

    return view


def stacks(queries: int) -> dict:
    from django_prometheus.middleware import PrometheusAfterMiddleware, PrometheusBeforeMiddleware

    from perfmon.middleware import RequestMetricsMiddleware

    view = view_for(queries)
    return {
        "bare": view,
        "perfmon": RequestMetricsMiddleware(view),
        "prometheus": PrometheusBeforeMiddleware(PrometheusAfterMiddleware(view)),
    }


def cpu_per_call(handler, request, n: int) -> float:
    for _ in range(200):
        handler(request)
    start = time.process_time()
    for _ in range(n):
        handler(request)
    return (time.process_time() - start) / n * 1e6


def main() -> None:
    from perfmon.recorder import get_recorder

    get_recorder().use_thread = False  # measure the request path only; the flush is the thread's work
    request = RequestFactory().get("/bench/trivial")
    results = {}
    for queries, n in ((0, 50000), (3, 15000)):
        handlers = stacks(queries)
        samples = {name: [] for name in handlers}
        for _round in range(5):
            for name, handler in handlers.items():
                samples[name].append(cpu_per_call(handler, request, n))
        med = {name: statistics.median(values) for name, values in samples.items()}
        results[f"{queries}_queries"] = {
            "cpu_us_per_request": med,
            "perfmon_extra_us": med["perfmon"] - med["bare"],
            "prometheus_extra_us": med["prometheus"] - med["bare"],
        }
    q0, q3 = results["0_queries"], results["3_queries"]
    results["perfmon_extra_us_per_query"] = (q3["perfmon_extra_us"] - q0["perfmon_extra_us"]) / 3
    results["prometheus_extra_us_per_query"] = (q3["prometheus_extra_us"] - q0["prometheus_extra_us"]) / 3
    get_recorder().flush()
    print(json.dumps(results, indent=2))
    Path(__file__).with_name("results_micro.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
