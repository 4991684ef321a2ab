"""GET /api/performance/dashboard with 30 days of data, end to end through Django.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/cp_dashboard_bench \
    .venv/bin/python bench/dashboard/run_api.py [--days 30] [--routes 50] [--reseed]

Seeds (once) a minute row per route per minute for --days (perfmon's bench seeder),
rolls the hours up as beat would, adds a host sample every 15 s for a week, 200
scaling events and 50 alerts, rolls the host samples up
into hours, then times the whole endpoint (routing, auth,
selectors, JSON) for each range with the test client: p50 and p95 over 40 calls.
The baseline, measured in the same run, is GET /api/performance/settings, the
cheapest authenticated read: the ratio shows what the dashboard's data costs on top.
Target: p95 under 100 ms for every range.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
import os  # noqa: E402

os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")

from bench.perfmon.run_dashboard import seed, timed  # noqa: E402  (sets up Django)
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from perfmon.models import HostSample, TrafficMinute  # noqa: E402
from perfmon.rollup import rollup_hours  # noqa: E402

TARGET_MS = 100.0


def seed_rest() -> None:
    from perfmon.ops.models import Alert, AlertRule
    from scaling.models import ScalingEvent, ScalingGroup

    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE perfmon_hostsample")
        cursor.execute("""
            INSERT INTO perfmon_hostsample (host, at, cpu_percent, load1, load5, load15, memory_percent,
                swap_percent, disk_percent, disk_read_bytes, disk_write_bytes, net_sent_bytes, net_recv_bytes,
                process_rss_bytes)
            SELECT 'web-' || h, ts, 30 + 20 * sin(extract(epoch from ts) / 3600), 1, 1, 1, 60, 0, 50, 0, 0, 0, 0, 1e8
            FROM generate_series(now() - interval '7 days', now(), interval '15 seconds') AS ts,
                 generate_series(1, 3) AS h""")
        cursor.execute("ANALYZE perfmon_hostsample")
    from perfmon.host_rollup import rollup_host_hours

    rollup_host_hours(now=now, lookback_hours=7 * 24 + 1)  # beat keeps these up to date every 5 minutes
    group, _ = ScalingGroup.objects.get_or_create(name="web", defaults={"min_instances": 1, "max_instances": 10})
    ScalingEvent.objects.filter(group=group).delete()
    ScalingEvent.objects.bulk_create([ScalingEvent(group=group, kind="autoscale", from_instances=2 + i % 3,
                                                   to_instances=3 + i % 3, reason="bench", actor_label="autoscaler")
                                      for i in range(200)])
    for i, event in enumerate(ScalingEvent.objects.filter(group=group)):
        ScalingEvent.objects.filter(pk=event.pk).update(at=now - timedelta(hours=i * 3.5))
    rule, _ = AlertRule.objects.get_or_create(name="bench rule", defaults={"metric": "host.cpu_percent",
                                                                           "threshold": 50})
    Alert.objects.filter(rule=rule).delete()
    Alert.objects.bulk_create([Alert(rule=rule, fingerprint=f"f{i}", labels={"host": f"web-{i}"},
                                     state="firing" if i < 5 else "resolved", severity="warning", value=60,
                                     threshold=50, started_at=now, fired_at=now, last_evaluated_at=now)
                               for i in range(50)])


def get(client: Client, url: str, cold: bool = False):
    from perfmon.ops.dashboard import invalidate_cache

    def call():
        if cold:
            invalidate_cache()  # every call computes the dashboard from the database
        response = client.get(url)
        assert response.status_code == 200, response.content[:300]
    return call


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
    rollup_hours()
    if args.reseed or HostSample.objects.count() < 1000:
        seed_rest()
    user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_staff": True})
    client = Client()
    client.force_login(user)
    baseline = timed(get(client, "/api/performance/settings"), runs=40)
    print(f"baseline GET /api/performance/settings   p50 {baseline['p50_ms']:7.2f} ms  p95 {baseline['p95_ms']:7.2f} ms")
    results = {"baseline_settings": baseline}
    for range_name in ("hour", "day", "week"):
        for label, cold in (("computed", True), ("cached", False)):
            r = timed(get(client, f"/api/performance/dashboard?range={range_name}", cold=cold), runs=40)
            results[f"{range_name}_{label}"] = r
            verdict = "ok" if r["p95_ms"] < TARGET_MS else "OVER TARGET"
            print(f"dashboard range={range_name:<5} {label:<9}  p50 {r['p50_ms']:7.2f} ms  p95 {r['p95_ms']:7.2f} ms  "
                  f"x{r['p95_ms'] / baseline['p95_ms']:.1f} of baseline  p95/target {r['p95_ms'] / TARGET_MS:.2f}  "
                  f"{verdict}")
    Path(__file__).with_name("results_api.json").write_text(json.dumps(
        {"minute_rows": expected, "days": args.days, "routes": args.routes, "results": results}, indent=2))


if __name__ == "__main__":
    main()
