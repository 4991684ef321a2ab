"""The dashboard's range queries over 30 days of minute rollups for 50 routes.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/cp_perfmon_bench \
    .venv/bin/python bench/perfmon/run_dashboard.py [--days 30] [--routes 50]

Seeds (once; --reseed to redo) a minute row per route per minute with a realistic
latency histogram, runs the hourly rollup over it as beat would, then times each
selector the dashboard and alerts use: p50/p95 over 30 runs each. Target: p95 < 100 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
os.environ.setdefault("SECRET_KEY", "bench-" + "k3y!Q9#zL7$wX2%" * 4)
os.environ.setdefault("ALLOWED_HOSTS", "localhost")
os.environ.setdefault("SECURE_HTTPS", "false")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from perfmon import registry, selectors  # noqa: E402
from perfmon.histogram import BUCKET_FIELDS  # noqa: E402
from perfmon.models import TrafficDay, TrafficHour, TrafficMinute  # noqa: E402
from perfmon.registry import Query  # noqa: E402
from perfmon.rollup import rollup_hours  # noqa: E402


def seed(days: int, routes: int) -> None:
    hist = ", ".join(BUCKET_FIELDS)
    # a latency shape that varies by route and time: most requests 5-20 ms, a tail to ~1 s
    values = ", ".join(
        {6: "(r % 7) + 3", 7: "(r % 5) + 4", 8: "2 + (m % 3)", 9: "1", 12: "(m % 4)", 18: "(m % 11 = 0)::int"}
        .get(i, "0") for i in range(len(BUCKET_FIELDS)))
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE perfmon_trafficminute, perfmon_traffichour, perfmon_rollupstate")
        cursor.execute(f"""
            INSERT INTO perfmon_trafficminute (kind, bucket, route, method, status, count, duration_sum_ms,
                duration_max_ms, db_queries, db_time_ms, cache_hits, cache_misses, response_bytes, bytes_saved, {hist})
            SELECT 'http', ts, '/api/route-' || r || '/<int:id>', 'GET', CASE WHEN m % 97 = 0 THEN 500 ELSE 200 END,
                   c, c * 12.5, 40 + (m % 900), c * 3, c * 2.0, c, 1, c * 2000, c * 300, {values}
            FROM (SELECT ts, r, (extract(epoch from ts) / 60)::bigint AS m FROM
                  generate_series(date_trunc('minute', now()) - interval '{int(days)} days',
                                  date_trunc('minute', now()), interval '1 minute') AS ts,
                  generate_series(1, {int(routes)}) AS r) AS g,
                 LATERAL (SELECT (r % 7) + 3 + (r % 5) + 4 + 2 + (m % 3) + 1 + (m % 4) + (m % 11 = 0)::int AS c) AS k
        """)
        cursor.execute("ANALYZE perfmon_trafficminute")


def timed(fn, runs: int = 30) -> dict:
    fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {"p50_ms": round(statistics.median(samples), 2), "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--routes", type=int, default=50)
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    expected = (args.days * 1440 + 1) * args.routes
    if args.reseed or TrafficMinute.objects.count() != expected:
        started = time.perf_counter()
        seed(args.days, args.routes)
        print(f"seeded {expected} minute rows in {time.perf_counter() - started:.1f}s", flush=True)
    with connection.cursor() as cursor:  # roll the whole month up from scratch, as a first run would
        cursor.execute("TRUNCATE perfmon_traffichour, perfmon_trafficday, perfmon_rollupstate")
    started = time.perf_counter()
    rollup_hours()
    print(f"first hourly rollup: {TrafficHour.objects.count()} hour rows, {TrafficDay.objects.count()} day rows "
          f"in {time.perf_counter() - started:.1f}s", flush=True)
    with connection.cursor() as cursor:  # what autovacuum does after a bulk load
        cursor.execute("ANALYZE perfmon_traffichour")
        cursor.execute("ANALYZE perfmon_trafficday")
    started = time.perf_counter()
    again = rollup_hours()
    print(f"hourly rollup again (beat's regular run, {again.hours_recomputed} recent hours): "
          f"{time.perf_counter() - started:.2f}s")

    now = timezone.now()
    month, day, hour = now - timedelta(days=args.days), now - timedelta(days=1), now - timedelta(hours=1)
    route = "/api/route-7/<int:id>"
    week = now - timedelta(days=7)
    cases = {
        # the dashboard's ranges: last hour, day, week (all routes and the per-route table)
        "1h overall stats (minute rows)": lambda: selectors.traffic_stats(hour, now),
        "1h series, 1m steps (minute rows)": lambda: selectors.traffic_series(hour, now, step=timedelta(minutes=1)),
        "1h per-route table": lambda: selectors.route_stats(hour, now, limit=None),
        "24h overall stats": lambda: selectors.traffic_stats(day, now),
        "24h series, 1h steps": lambda: selectors.traffic_series(day, now, step=timedelta(hours=1)),
        "24h per-route table": lambda: selectors.route_stats(day, now, limit=None),
        "7d overall stats": lambda: selectors.traffic_stats(week, now),
        "7d series, 1h steps": lambda: selectors.traffic_series(week, now, step=timedelta(hours=1)),
        "7d per-route table": lambda: selectors.route_stats(week, now, limit=None),
        # reports and alerts over the whole 30 days
        "30d overall stats (rate, errors, p50/p95/p99)": lambda: selectors.traffic_stats(month, now),
        "30d per-route table (50 routes)": lambda: selectors.route_stats(month, now, limit=None),
        "30d series, 1d steps": lambda: selectors.traffic_series(month, now, step=timedelta(days=1)),
        "30d p95 of one route (registry)": lambda: registry.read("http.latency_ms", Query(now, now - month, "p95",
                                                                                          {"route": route})),
        "24h per-route p95 (registry, alerts)": lambda: registry.read("http.latency_ms", Query(now, now - day, "p95")),
        "30d series, 6h steps (hour rows; not a dashboard range)":
            lambda: selectors.traffic_series(month, now, step=timedelta(hours=6)),
    }
    results = {name: timed(fn) for name, fn in cases.items()}
    width = max(map(len, results))
    for name, r in results.items():
        print(f"{name:<{width}}  p50 {r['p50_ms']:7.2f} ms  p95 {r['p95_ms']:7.2f} ms")
    Path(__file__).with_name("results_dashboard.json").write_text(json.dumps(
        {"minute_rows": expected, "hour_rows": TrafficHour.objects.count(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
