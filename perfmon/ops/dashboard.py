"""Everything the operator dashboard shows, in one read: stat tiles, time series over a
range, firing alerts and the top recommendations with their actions.

Shaped for speed with 30 days of data: traffic comes from perfmon.selectors (minute
rows for short ranges, hour rows for the rolled-up hours of long ones), host samples
are averaged per truncated minute or hour in the database, and each list is capped.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from django.db.models import Avg, Count, Q, Sum
from django.db.models.functions import TruncHour, TruncMinute
from django.utils import timezone

from perfmon import selectors
from perfmon.models import HostHour, HostSample

from .models import Alert, Recommendation

RANGES = {
    # range: (span, traffic step seconds, host step seconds, host-sample truncation)
    # Traffic steps follow the rollup rows (minutes for the hour; the hourly rollup's
    # rows beyond), so a range never re-aggregates tens of thousands of minute rows.
    "hour": (timedelta(hours=1), 60, 60, TruncMinute),
    "day": (timedelta(days=1), 3600, 3600, TruncHour),
    "week": (timedelta(days=7), 3600, 3600, TruncHour),
}
TILE_WINDOW = timedelta(minutes=5)


def _floor(moment: datetime, seconds: int) -> int:
    epoch = int(moment.timestamp())
    return epoch - epoch % seconds


def _r(value, digits=2):
    return round(value, digits) if value is not None else None


def _traffic_series(start, end, step) -> dict[str, list]:
    points = selectors.traffic_series(start, end, step=timedelta(seconds=step))
    return {
        "t": [int(p.at.timestamp()) for p in points],
        "requests_per_min": [round(p.stats.rate_per_second * 60, 2) for p in points],
        "errors_per_min": [round(p.stats.errors * 60 / step, 2) for p in points],
        "p50_ms": [_r(p.stats.p50_ms) for p in points],
        "p95_ms": [_r(p.stats.p95_ms) for p in points],
        "p99_ms": [_r(p.stats.p99_ms) for p in points],
        "cache_hit_rate": [_r(p.stats.cache_hit_rate, 4) for p in points],
    }


def _host_series(start, end, step, trunc) -> dict[str, list]:
    """CPU and memory averaged over all hosts per step: from the raw samples for the hour
    view, from the hourly rollup (HostHour) for longer ranges."""
    if step >= 3600:
        rows = (HostHour.objects.filter(hour__gte=start - timedelta(hours=1), hour__lt=end).values("hour")
                .annotate(cpu=Sum("cpu_sum"), mem=Sum("memory_sum"), n=Sum("samples")).order_by("hour"))
        points = [(row["hour"], row["cpu"], row["mem"], row["n"]) for row in rows]
    else:
        rows = (HostSample.objects.filter(at__gte=start, at__lt=end).annotate(b=trunc("at")).values("b")
                .annotate(cpu=Avg("cpu_percent"), mem=Avg("memory_percent"), n=Count("id")))
        points = [(row["b"], row["cpu"] * row["n"], row["mem"] * row["n"], row["n"]) for row in rows]
    folded: dict[int, list] = defaultdict(lambda: [0.0, 0.0, 0])
    for at, cpu_sum, mem_sum, n in points:
        slot = folded[_floor(at, step)]
        slot[0] += cpu_sum
        slot[1] += mem_sum
        slot[2] += n
    ts = sorted(t for t, slot in folded.items() if slot[2])
    return {"t": ts, "cpu_percent": [round(folded[t][0] / folded[t][2], 2) for t in ts],
            "memory_percent": [round(folded[t][1] / folded[t][2], 2) for t in ts]}


def _instances(start, end) -> dict[str, Any]:
    from scaling import selectors as scaling_selectors

    events = scaling_selectors.events_between(start, end, include_noop=False, limit=500)
    by_group = scaling_selectors.instances_before(start)
    points_t, points_n = [int(start.timestamp())], [sum(by_group.values())]
    for event in events:
        if event.result != "failed":
            by_group[event.group.name] = event.reached_instances if event.reached_instances is not None \
                else event.to_instances
        points_t.append(int(event.at.timestamp()))
        points_n.append(sum(by_group.values()))
    points_t.append(int(end.timestamp()))
    points_n.append(scaling_selectors.live_instance_count())
    return {"t": points_t, "count": points_n,
            "events": [{"t": int(e.at.timestamp()), "group": e.group.name, "kind": e.kind, "from": e.from_instances,
                        "to": e.to_instances, "result": e.result, "reason": e.reason[:200]} for e in events]}


def _tiles(now: datetime) -> dict[str, Any]:
    from scaling.models import Instance

    # The last complete minutes: the current one is still being counted.
    end = now.replace(second=0, microsecond=0)
    stats = selectors.traffic_stats(end - TILE_WINDOW, end)
    host = HostSample.objects.filter(at__gte=now - timedelta(minutes=2)).aggregate(
        cpu=Avg("cpu_percent"), mem=Avg("memory_percent"))
    return {
        "request_rate_per_min": round(stats.rate_per_second * 60, 2),
        "error_rate": round(stats.error_rate, 4) if stats.requests else None,
        "p95_ms": _r(stats.p95_ms),
        "cpu_percent": _r(host["cpu"], 1),
        "memory_percent": _r(host["mem"], 1),
        "cache_hit_rate": _r(stats.cache_hit_rate, 4),
        "instances": Instance.objects.filter(state="ready").count(),
        "firing_alerts": Alert.objects.filter(state=Alert.State.FIRING).count(),
    }


def _database(start, end) -> dict[str, Any]:
    slow = selectors.slow_queries(max(start, end - timedelta(days=1)), end, limit=5)
    connections = selectors.latest_value("db.connections_total")
    return {"slow_queries": [{"fingerprint": q.fingerprint, "route": q.route, "count": q.slow_count,
                              "mean_ms": _r(q.mean_ms, 1), "max_ms": q.max_ms, "sql": q.sql[:300]} for q in slow],
            "connections": connections}


def dashboard(*, range_name: str = "hour", now: datetime | None = None) -> dict[str, Any]:
    if range_name not in RANGES:
        raise ValueError(f"range must be one of {', '.join(RANGES)}")
    now = now or timezone.now()
    span, step, host_step, trunc = RANGES[range_name]
    start = now - span
    alerts = Alert.objects.select_related("rule").filter(state=Alert.State.FIRING).order_by("-fired_at")[:20]
    recommendations = Recommendation.objects.filter(status=Recommendation.Status.OPEN).order_by("-impact")[:5]
    return {
        "range": range_name, "bucket_seconds": step, "generated_at": now.isoformat(),
        "tiles": _tiles(now),
        "traffic": _traffic_series(start, now, step),
        "host": _host_series(start, now, host_step, trunc),
        "instances": _instances(start, now),
        "database": _database(start, now),
        "cdn": _cdn(start, now),
        "groups": _groups(),
        "alerts": [{"id": a.pk, "rule": a.rule.name, "severity": a.severity, "labels": a.labels, "value": a.value,
                    "threshold": a.threshold, "fired_at": a.fired_at.isoformat() if a.fired_at else None,
                    "acknowledged": a.acknowledged_at is not None} for a in alerts],
        "recommendations": [{"id": r.pk, "title": r.title, "kind": r.kind, "subject": r.subject, "impact": r.impact,
                             "action": r.action} for r in recommendations],
    }


CDN_DAYS = 14


def _cdn(start, end) -> dict[str, Any]:
    """Daily CDN hit ratio and bytes from the ingested access logs (they arrive hours
    late, so the chart shows the last two weeks whatever the range)."""
    from cdn.selectors import daily_usage

    days = daily_usage((end - timedelta(days=CDN_DAYS)).date())
    return {"available": bool(days),
            "t": [int(datetime(d["date"].year, d["date"].month, d["date"].day, tzinfo=dt_timezone.utc).timestamp())
                  for d in days],
            "hit_ratio": [round(d["hits"] / d["requests"], 4) for d in days],
            "megabytes": [round(d["bytes"] / 1e6, 3) for d in days]}


def _groups() -> list[dict[str, Any]]:
    from scaling.models import ScalingGroup

    return [{"name": g.name, "min": g.min_instances, "max": g.max_instances, "desired": g.desired_instances,
             "autoscaling": g.enabled, "ready": g.ready}
            for g in ScalingGroup.objects.annotate(ready=Count("instances", filter=Q(instances__state="ready")))
            .order_by("name")[:50]]


CACHE_SCOPE = "perfmon.dashboard"
CACHE_SECONDS = 10


def cached_dashboard(range_name: str):
    """The dashboard through perfmon's read-through cache (ETag included). Entries live
    at most CACHE_SECONDS and are dropped at once when an action is audited or an alert
    changes state, so a one-click action shows on the next refresh."""
    from perfmon.api_cache import read_through

    if range_name not in RANGES:
        raise ValueError(f"range must be one of {', '.join(RANGES)}")
    return read_through(CACHE_SCOPE, range_name, lambda: dashboard(range_name=range_name), timeout=CACHE_SECONDS)


def invalidate_cache() -> None:
    from perfmon.api_cache import invalidate

    invalidate(CACHE_SCOPE)
