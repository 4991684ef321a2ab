"""Everything the operator dashboard shows, in one read: stat tiles, time series over a
range, firing alerts and the top recommendations with their actions.

Shaped for speed with 30 days of data: traffic is summed per time bucket in the
database (minute rows for the hour and day views, hour rows for the week), host
samples are averaged per truncated minute or hour, and each list is capped.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, Max, Q, Sum
from django.db.models.functions import TruncHour, TruncMinute
from django.utils import timezone

from perfmon import histogram
from perfmon.models import HostSample, QueryMinute, QueryShape, Sample, TrafficHour, TrafficMinute

from .models import Alert, Recommendation

RANGES = {
    # range: (span, bucket seconds, traffic table, host truncation)
    "hour": (timedelta(hours=1), 60, TrafficMinute, TruncMinute),
    "day": (timedelta(days=1), 900, TrafficMinute, TruncMinute),
    "week": (timedelta(days=7), 3600, TrafficHour, TruncHour),
}
TILE_WINDOW = timedelta(minutes=5)


def _floor(moment: datetime, seconds: int) -> int:
    epoch = int(moment.timestamp())
    return epoch - epoch % seconds


def _traffic_series(start, end, step, table) -> dict[str, list]:
    sums = {"n": Sum("count"), "err": Sum("count", filter=Q(status__gte=500)), "hits": Sum("cache_hits"),
            "misses": Sum("cache_misses"), "mx": Max("duration_max_ms"), "bytes_": Sum("response_bytes"),
            **{f"s_{f}": Sum(f) for f in histogram.BUCKET_FIELDS}}
    rows = table.objects.filter(kind="http", bucket__gte=start, bucket__lt=end).values("bucket").annotate(**sums)
    folded: dict[int, dict[str, Any]] = {}
    for row in rows:
        slot = folded.setdefault(_floor(row["bucket"], step), {"n": 0, "err": 0, "hits": 0, "misses": 0, "mx": 0.0,
                                                               "hist": [0] * histogram.N_BUCKETS})
        for key in ("n", "err", "hits", "misses"):
            slot[key] += row[key] or 0
        slot["mx"] = max(slot["mx"], row["mx"] or 0.0)
        for i, name in enumerate(histogram.BUCKET_FIELDS):
            slot["hist"][i] += row[f"s_{name}"] or 0
    series: dict[str, list] = {k: [] for k in ("t", "requests_per_min", "errors_per_min", "p50_ms", "p95_ms",
                                               "p99_ms", "cache_hit_rate")}
    per_minute = 60 / step
    for t in range(_floor(start, step), int(end.timestamp()), step):
        slot = folded.get(t)
        series["t"].append(t)
        if slot is None:
            for key in list(series)[1:]:
                series[key].append(None if key != "requests_per_min" and key != "errors_per_min" else 0)
            continue
        q = histogram.percentiles(slot["hist"], (50, 95, 99), slot["mx"] or None)
        lookups = slot["hits"] + slot["misses"]
        series["requests_per_min"].append(round(slot["n"] * per_minute, 2))
        series["errors_per_min"].append(round(slot["err"] * per_minute, 2))
        for key in ("p50", "p95", "p99"):
            series[f"{key}_ms"].append(round(q[key], 2) if q[key] is not None else None)
        series["cache_hit_rate"].append(round(slot["hits"] / lookups, 4) if lookups else None)
    return series


def _host_series(start, end, step, trunc) -> dict[str, list]:
    rows = (HostSample.objects.filter(at__gte=start, at__lt=end).annotate(b=trunc("at")).values("b")
            .annotate(cpu=Avg("cpu_percent"), mem=Avg("memory_percent"), n=Count("id")))
    folded: dict[int, list] = defaultdict(lambda: [0.0, 0.0, 0])
    for row in rows:
        slot = folded[_floor(row["b"], step)]
        slot[0] += row["cpu"] * row["n"]
        slot[1] += row["mem"] * row["n"]
        slot[2] += row["n"]
    ts = sorted(folded)
    return {"t": ts, "cpu_percent": [round(folded[t][0] / folded[t][2], 2) for t in ts],
            "memory_percent": [round(folded[t][1] / folded[t][2], 2) for t in ts]}


def _instances(start, end) -> dict[str, Any]:
    from scaling.models import Instance, ScalingEvent

    events = list(ScalingEvent.objects.select_related("group").filter(at__gte=start, at__lt=end)
                  .exclude(result="noop").order_by("at")[:500])
    by_group: dict[str, int] = {}
    for group_name, to in (ScalingEvent.objects.filter(at__lt=start).exclude(result="failed")
                           .order_by("group_id", "-at").values_list("group__name", "to_instances")):
        by_group.setdefault(group_name, to)
    points_t, points_n = [int(start.timestamp())], [sum(by_group.values())]
    for event in events:
        if event.result != "failed":
            by_group[event.group.name] = event.reached_instances if event.reached_instances is not None \
                else event.to_instances
        points_t.append(int(event.at.timestamp()))
        points_n.append(sum(by_group.values()))
    live = Instance.objects.filter(state__in=["starting", "ready"]).count()
    points_t.append(int(end.timestamp()))
    points_n.append(live)
    return {"t": points_t, "count": points_n,
            "events": [{"t": int(e.at.timestamp()), "group": e.group.name, "kind": e.kind, "from": e.from_instances,
                        "to": e.to_instances, "result": e.result, "reason": e.reason[:200]} for e in events]}


def _tiles(now: datetime) -> dict[str, Any]:
    since = now - TILE_WINDOW
    agg = TrafficMinute.objects.filter(kind="http", bucket__gte=since - timedelta(minutes=1)).aggregate(
        n=Sum("count"), err=Sum("count", filter=Q(status__gte=500)), hits=Sum("cache_hits"),
        misses=Sum("cache_misses"), mx=Max("duration_max_ms"), **{f"s_{f}": Sum(f) for f in histogram.BUCKET_FIELDS})
    n = agg["n"] or 0
    hist = [agg[f"s_{f}"] or 0 for f in histogram.BUCKET_FIELDS]
    lookups = (agg["hits"] or 0) + (agg["misses"] or 0)
    host = HostSample.objects.filter(at__gte=now - timedelta(minutes=2)).aggregate(
        cpu=Avg("cpu_percent"), mem=Avg("memory_percent"))
    from scaling.models import Instance

    p95 = histogram.percentile(hist, 95, agg["mx"])
    return {
        "request_rate_per_min": round(n / (TILE_WINDOW.total_seconds() / 60), 2),
        "error_rate": round((agg["err"] or 0) / n, 4) if n else None,
        "p95_ms": round(p95, 2) if p95 is not None else None,
        "cpu_percent": round(host["cpu"], 1) if host["cpu"] is not None else None,
        "memory_percent": round(host["mem"], 1) if host["mem"] is not None else None,
        "cache_hit_rate": round((agg["hits"] or 0) / lookups, 4) if lookups else None,
        "instances": Instance.objects.filter(state="ready").count(),
        "firing_alerts": Alert.objects.filter(state=Alert.State.FIRING).count(),
    }


def _database(start, end) -> dict[str, Any]:
    rows = (QueryMinute.objects.filter(bucket__gte=max(start, end - timedelta(days=1)), bucket__lt=end,
                                       slow_count__gt=0)
            .values("fingerprint").annotate(n=Sum("slow_count"), total=Sum("slow_total_ms"), mx=Max("slow_max_ms"))
            .order_by("-total")[:5])
    shapes = dict(QueryShape.objects.filter(fingerprint__in=[r["fingerprint"] for r in rows])
                  .values_list("fingerprint", "sql"))
    latest = Sample.objects.filter(name="db.connections_total").order_by("-at").values_list("value", flat=True)[:1]
    return {"slow_queries": [{"fingerprint": r["fingerprint"], "count": r["n"], "mean_ms": round(r["total"] / r["n"], 1),
                              "max_ms": r["mx"], "sql": shapes.get(r["fingerprint"], "")[:300]} for r in rows],
            "connections": latest[0] if latest else None}


def dashboard(*, range_name: str = "hour", now: datetime | None = None) -> dict[str, Any]:
    if range_name not in RANGES:
        raise ValueError(f"range must be one of {', '.join(RANGES)}")
    now = now or timezone.now()
    span, step, table, trunc = RANGES[range_name]
    start = now - span
    alerts = Alert.objects.select_related("rule").filter(state=Alert.State.FIRING).order_by("-fired_at")[:20]
    recommendations = Recommendation.objects.filter(status=Recommendation.Status.OPEN).order_by("-impact")[:5]
    return {
        "range": range_name, "bucket_seconds": step, "generated_at": now.isoformat(),
        "tiles": _tiles(now),
        "traffic": _traffic_series(start, now, step, table),
        "host": _host_series(start, now, step, trunc),
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


def _cdn(start, end) -> dict[str, Any]:
    """The CDN's hit ratio and bytes, from the cdn app's usage selectors."""
    try:
        from cdn import selectors as cdn_selectors
    except ImportError:
        return {"available": False}
    reader = getattr(cdn_selectors, "dashboard_usage", None)
    if reader is None:
        return {"available": False}
    return {"available": True, **reader(start=start, end=end)}


def _groups() -> list[dict[str, Any]]:
    from scaling.models import ScalingGroup

    return [{"name": g.name, "min": g.min_instances, "max": g.max_instances, "desired": g.desired_instances,
             "autoscaling": g.enabled, "ready": g.ready}
            for g in ScalingGroup.objects.annotate(ready=Count("instances", filter=Q(instances__state="ready")))
            .order_by("name")[:50]]
