"""Reads of the metrics pipeline, for the API, alerts, reports and the dashboard.

Ranges read minute rows, or hour rows for the whole hours that the hourly rollup
has finished (ranges over six hours), so a 30-day query touches ~720 rows per
route. Percentiles come from merged histograms (within the bucket resolution).
"""
from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.db.models import Max, Q, Sum
from django.utils import timezone

from .histogram import BUCKET_FIELDS, percentile
from .models import HostSample, QueryHour, QueryMinute, QueryShape, Sample, TrafficDay, TrafficHour, TrafficMinute
from .recorder import Batch
from .rollup import watermarks
from .schema import ALL_ROUTES, COUNT, HTTP, TASK, TRAFFIC_FIELDS

MINUTE_ONLY_SPAN = timedelta(hours=6)
SUM_FIELDS = ("count", "duration_sum_ms", "db_queries", "db_time_ms", "cache_hits", "cache_misses",
              "response_bytes", "bytes_saved") + BUCKET_FIELDS


@dataclass(frozen=True)
class TrafficStats:
    """Requests (or tasks) of a range, all routes or one, with percentiles in ms."""

    requests: int
    errors: int
    error_rate: float
    rate_per_second: float
    avg_ms: float | None
    max_ms: float | None
    p50_ms: float | None
    p90_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    db_queries_per_request: float | None
    db_ms_per_request: float | None
    cache_hits: int
    cache_misses: int
    cache_hit_rate: float | None
    response_bytes: int
    bytes_saved: int

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RouteStats:
    route: str
    stats: TrafficStats

    def as_dict(self) -> dict:
        return {"route": self.route, **self.stats.as_dict()}


@dataclass(frozen=True)
class SeriesPoint:
    at: datetime
    stats: TrafficStats

    def as_dict(self) -> dict:
        return {"at": self.at, **self.stats.as_dict()}


@dataclass(frozen=True)
class SlowQuery:
    fingerprint: str
    sql: str
    route: str
    slow_count: int
    mean_ms: float | None
    max_ms: float
    nplus1_requests: int
    nplus1_executions: int

    def as_dict(self) -> dict:
        return asdict(self)


class _Acc:
    """Sums of one group (range, route or step); errors are the 5xx rows' counts."""

    __slots__ = ("sums", "max_ms", "errors")

    def __init__(self) -> None:
        self.sums = dict.fromkeys(SUM_FIELDS, 0.0)
        self.max_ms = 0.0
        self.errors = 0.0

    def add(self, row: dict, errors: float = 0.0) -> None:
        sums = self.sums
        for name in SUM_FIELDS:
            sums[name] += row.get(name) or 0
        self.max_ms = max(self.max_ms, row.get("duration_max_ms") or 0)
        self.errors += errors

    def stats(self, seconds: float) -> TrafficStats:
        s = self.sums
        count = int(s["count"])
        histogram = [s[name] for name in BUCKET_FIELDS]
        lookups = s["cache_hits"] + s["cache_misses"]
        pct = {q: percentile(histogram, q, self.max_ms or None) for q in (50, 90, 95, 99)}
        return TrafficStats(
            requests=count, errors=int(self.errors), error_rate=(self.errors / count) if count else 0.0,
            rate_per_second=count / seconds if seconds > 0 else 0.0,
            avg_ms=s["duration_sum_ms"] / count if count else None, max_ms=self.max_ms if count else None,
            p50_ms=pct[50], p90_ms=pct[90], p95_ms=pct[95], p99_ms=pct[99],
            db_queries_per_request=s["db_queries"] / count if count else None,
            db_ms_per_request=s["db_time_ms"] / count if count else None,
            cache_hits=int(s["cache_hits"]), cache_misses=int(s["cache_misses"]),
            cache_hit_rate=s["cache_hits"] / lookups if lookups else None,
            response_bytes=int(s["response_bytes"]), bytes_saved=int(s["bytes_saved"]))


HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def _floor(at: datetime, unit: timedelta) -> datetime:
    seconds = int(unit.total_seconds())
    return datetime.fromtimestamp(int(at.timestamp()) // seconds * seconds, tz=dt_timezone.utc)


def _ceil(at: datetime, unit: timedelta) -> datetime:
    floor = _floor(at, unit)
    return floor if floor == at else floor + unit


def _plan(start: datetime, end: datetime, levels: list) -> list:
    if start >= end:
        return []
    model, unit, mark, min_span = levels[0]
    if unit is None:
        return [(model, start, end)]
    if mark is None or end - start <= min_span:
        return _plan(start, end, levels[1:])
    whole_start, whole_end = _ceil(start, unit), min(_floor(end, unit), mark)
    if whole_start >= whole_end:
        return _plan(start, end, levels[1:])
    return _plan(start, whole_start, levels[1:]) + [(model, whole_start, whole_end)] + \
        _plan(whole_end, end, levels[1:])


def segments(start: datetime, end: datetime, minute_model=TrafficMinute, hour_model=TrafficHour,
             day_model=TrafficDay, finest_step: timedelta | None = None) -> list:
    """[(model, start, end)] covering [start, end): day rows for whole rolled-up days of
    ranges over three days, hour rows for whole rolled-up hours of ranges over six hours,
    minute rows elsewhere. No tier coarser than `finest_step` is used."""
    marks = watermarks()
    levels = [(minute_model, None, None, None)]
    if hour_model is not None and (finest_step is None or finest_step >= HOUR):
        levels.insert(0, (hour_model, HOUR, marks.get("hours"), MINUTE_ONLY_SPAN))
    if day_model is not None and (finest_step is None or finest_step >= DAY):
        levels.insert(0, (day_model, DAY, marks.get("days"), timedelta(days=3)))
    return _plan(start, end, levels)


def _aggregates(kind: str):
    aggregates = {f"s_{name}": Sum(name) for name in SUM_FIELDS}
    aggregates["s_duration_max_ms"] = Max("duration_max_ms")
    # An HTTP error is a 5xx; a task's status is 1 when it failed.
    aggregates["s_errors"] = Sum("count", filter=Q(status=1) if kind == TASK else Q(status__gte=500))
    return aggregates


def _unprefixed(row: dict) -> dict:
    return {(k[2:] if k.startswith("s_") else k): v for k, v in row.items()}


def _grouped(start, end, group: tuple[str, ...], kind: str, route: str | None, method: str | None,
             finest_step: timedelta | None = None):
    for model, seg_start, seg_end in segments(start, end, finest_step=finest_step):
        rows = model.objects.filter(kind=kind, bucket__gte=seg_start, bucket__lt=seg_end)
        if route is not None:
            rows = rows.filter(route=route)
        elif model is not TrafficMinute:
            # hour and day tiers carry all-routes rows: read them alone, or skip them
            rows = rows.filter(route=ALL_ROUTES) if "route" not in group and method is None \
                else rows.exclude(route=ALL_ROUTES)
        if method is not None:
            rows = rows.filter(method=method)
        values = rows.values(*group) if group else rows
        if group:
            yield from map(_unprefixed, values.annotate(**_aggregates(kind)).order_by())
        else:
            yield _unprefixed(values.aggregate(**_aggregates(kind)))


def _errors(row: dict, kind: str) -> float:
    return row.get("errors") or 0


def traffic_stats(start: datetime, end: datetime, *, route: str | None = None, method: str | None = None,
                  kind: str = HTTP) -> TrafficStats:
    acc = _Acc()
    for row in _grouped(start, end, (), kind, route, method):
        acc.add(row, _errors(row, kind))
    return acc.stats((end - start).total_seconds())


def route_stats(start: datetime, end: datetime, *, kind: str = HTTP, order_by: str = "requests",
                limit: int | None = 10) -> list[RouteStats]:
    """Per route (or task name), busiest first (order_by: requests, p95_ms, p99_ms, avg_ms, errors, total_ms)."""
    by_route: dict[str, _Acc] = {}
    for row in _grouped(start, end, ("route",), kind, None, None):
        by_route.setdefault(row["route"], _Acc()).add(row, _errors(row, kind))
    seconds = (end - start).total_seconds()
    table = [RouteStats(route, acc.stats(seconds)) for route, acc in by_route.items()]
    if order_by == "total_ms":
        table.sort(key=lambda r: -(r.stats.avg_ms or 0) * r.stats.requests)
    else:
        table.sort(key=lambda r: -(getattr(r.stats, order_by) or 0))
    return table[:limit] if limit else table


def traffic_series(start: datetime, end: datetime, *, step: timedelta | None = None, route: str | None = None,
                   kind: str = HTTP) -> list[SeriesPoint]:
    """Stats per step (default: about 60 points over the range), oldest first; empty steps included."""
    step = step or _default_step(end - start)
    step_s = int(step.total_seconds())
    origin = int(start.timestamp()) // step_s * step_s
    points: dict[int, _Acc] = {}
    for row in _grouped(start, end, ("bucket",), kind, route, None, finest_step=step):
        slot = (int(row["bucket"].timestamp()) - origin) // step_s
        points.setdefault(slot, _Acc()).add(row, _errors(row, kind))
    slots = range(0, (int(end.timestamp()) - origin + step_s - 1) // step_s)
    return [SeriesPoint(datetime.fromtimestamp(origin + i * step_s, tz=dt_timezone.utc),
                        (points.get(i) or _Acc()).stats(step_s)) for i in slots]


def _default_step(span: timedelta) -> timedelta:
    """Minutes up to two hours, 5 minutes up to six; beyond, whole hours and days, so
    long ranges read hour and day rows."""
    if span <= timedelta(hours=2):
        return timedelta(minutes=1)
    if span <= MINUTE_ONLY_SPAN:
        return timedelta(minutes=5)
    return HOUR if span <= timedelta(days=8) else DAY


def slow_queries(start: datetime, end: datetime, *, route: str | None = None, limit: int = 20,
                 nplus1_only: bool = False) -> list[SlowQuery]:
    """Slow queries and N+1 suspicions by fingerprint and route, worst total time first."""
    found: dict[tuple[str, str], dict] = {}
    for model, seg_start, seg_end in segments(start, end, QueryMinute, QueryHour, None):
        rows = model.objects.filter(bucket__gte=seg_start, bucket__lt=seg_end)
        if route is not None:
            rows = rows.filter(route=route)
        if nplus1_only:
            rows = rows.filter(nplus1_requests__gt=0)
        for row in rows.values("fingerprint", "route").annotate(
                c=Sum("slow_count"), t=Sum("slow_total_ms"), m=Max("slow_max_ms"), nr=Sum("nplus1_requests"),
                ne=Sum("nplus1_executions")).order_by():
            acc = found.setdefault((row["fingerprint"], row["route"]), {"c": 0, "t": 0.0, "m": 0.0, "nr": 0, "ne": 0})
            acc["c"] += row["c"] or 0
            acc["t"] += row["t"] or 0
            acc["m"] = max(acc["m"], row["m"] or 0)
            acc["nr"] += row["nr"] or 0
            acc["ne"] += row["ne"] or 0
    ranked = sorted(found.items(), key=lambda kv: (-kv[1]["t"], -kv[1]["nr"]))[:limit]
    shapes = dict(QueryShape.objects.filter(fingerprint__in=[fp for (fp, _r), _a in ranked])
                  .values_list("fingerprint", "sql"))
    return [SlowQuery(fingerprint=fp, sql=shapes.get(fp, ""), route=route_, slow_count=int(a["c"]),
                      mean_ms=a["t"] / a["c"] if a["c"] else None, max_ms=a["m"], nplus1_requests=int(a["nr"]),
                      nplus1_executions=int(a["ne"])) for (fp, route_), a in ranked]


def batch_stats(batch: Batch, seconds: float, *, kind: str = HTTP) -> tuple[TrafficStats, list[RouteStats]]:
    """Stats of data still in the buffer (the realtime view), overall and per route."""
    total, routes = _Acc(), {}
    for (row_kind, _minute, route, _method, status), values in batch.rows.items():
        if row_kind != kind:
            continue
        row = dict(zip(TRAFFIC_FIELDS, values))
        errors = values[COUNT] if (status == 1 if kind == TASK else status >= 500) else 0
        total.add(row, errors)
        routes.setdefault(route, _Acc()).add(row, errors)
    return total.stats(seconds), [RouteStats(r, acc.stats(seconds)) for r, acc in routes.items()]


def minute_rows_as_batch(since: datetime, *, kind: str = HTTP) -> Batch:
    batch = Batch()
    for row in TrafficMinute.objects.filter(kind=kind, bucket__gte=since).values(
            "kind", "bucket", "route", "method", "status", *TRAFFIC_FIELDS):
        key = (row["kind"], int(row["bucket"].timestamp()), row["route"], row["method"], row["status"])
        batch.merge(Batch(rows={key: [float(row[f]) for f in TRAFFIC_FIELDS]}))
    return batch


def realtime(*, now: float | None = None) -> dict:
    """The last minute, read from the buffer (plus whatever the rollup already took):
    request rate, error rate, percentiles, CPU, memory, cache hit rate, busiest and
    slowest routes, and drops."""
    from .buffer import get_buffer
    from .recorder import get_recorder

    now = now or time.time()
    current = int(now) // 60 * 60
    since = current - 60
    seconds = 60 + (now - current)
    buffer = get_buffer()
    batch = buffer.pending(since_minute=since)
    batch.merge(minute_rows_as_batch(datetime.fromtimestamp(since, tz=dt_timezone.utc)))
    overall, routes = batch_stats(batch, seconds)
    host = HostSample.objects.order_by("-at").values("host", "at", "cpu_percent", "memory_percent").first()
    return {
        "window_seconds": round(seconds, 1),
        "buffer": buffer.name,
        "requests": overall.as_dict(),
        "cpu_percent": host["cpu_percent"] if host else None,
        "memory_percent": host["memory_percent"] if host else None,
        "host_sampled_at": host["at"] if host else None,
        "cache_hit_rate": overall.cache_hit_rate,
        "redis_hit_rate": latest_value("redis.hit_rate"),
        "busiest_routes": [r.as_dict() for r in sorted(routes, key=lambda r: -r.stats.requests)[:5]],
        "slowest_routes": [r.as_dict() for r in sorted(routes, key=lambda r: -(r.stats.p95_ms or 0))[:5]],
        "dropped_requests": buffer.dropped_total(),
        "this_process": get_recorder().snapshot(),
    }


def optimization(start: datetime, end: datetime) -> dict:
    """Cache hit rate against its target, slowest routes against the response-time
    target, slow queries and N+1 suspicions, compression savings."""
    from .conf import perfmon_settings

    overall = traffic_stats(start, end)
    hit_target = float(perfmon_settings.CACHE_HIT_RATE_TARGET)
    time_target = float(perfmon_settings.RESPONSE_TIME_TARGET_MS)
    slowest = route_stats(start, end, order_by="p95_ms", limit=10)
    sent = overall.response_bytes
    return {
        "window": {"start": start, "end": end},
        "cache": {"hit_rate": overall.cache_hit_rate, "target": hit_target, "hits": overall.cache_hits,
                  "misses": overall.cache_misses, "redis_hit_rate": latest_value("redis.hit_rate"),
                  "meets_target": None if overall.cache_hit_rate is None else overall.cache_hit_rate >= hit_target},
        "response_time": {"target_ms": time_target, "avg_ms": overall.avg_ms, "p95_ms": overall.p95_ms,
                          "slowest_routes": [dict(r.as_dict(), over_target=(r.stats.p95_ms or 0) > time_target)
                                             for r in slowest]},
        "slow_queries": [q.as_dict() for q in slow_queries(start, end, limit=10)],
        "compression": {"bytes_sent": sent, "bytes_saved": overall.bytes_saved,
                        "saved_ratio": overall.bytes_saved / (sent + overall.bytes_saved)
                        if sent + overall.bytes_saved else None},
    }


# ----- collector samples ----------------------------------------------------------------
def labels_text(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def parse_labels(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split(",") if "=" in item)


def latest_value(name: str, labels: dict[str, str] | None = None) -> float | None:
    rows = Sample.objects.filter(name=name, at__gte=timezone.now() - timedelta(minutes=10))
    if labels:
        rows = rows.filter(labels=labels_text(labels))
    return rows.order_by("-at").values_list("value", flat=True).first()


def latest_samples(names: Iterable[str]) -> dict[str, list[dict]]:
    """The latest value of each label set of each named sample (last 10 minutes)."""
    out: dict[str, list[dict]] = {}
    since = timezone.now() - timedelta(minutes=10)
    for name, labels, value, at in Sample.objects.filter(name__in=list(names), at__gte=since) \
            .order_by("name", "labels", "-at").values_list("name", "labels", "value", "at"):
        series = out.setdefault(name, [])
        if not series or series[-1]["labels_text"] != labels:
            series.append({"labels_text": labels, "labels": parse_labels(labels), "value": value, "at": at})
    return out
