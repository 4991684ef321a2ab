"""Performance reports for a period: trend against the previous period, top routes by
time and by errors, resource usage, slow queries, alerts, scaling events and their
reasons, and open recommendations. One builder; JSON and CSV are two renderings of it.
"""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, Max
from django.utils import timezone

from perfmon import selectors
from perfmon.models import HostSample

from .models import Alert, Recommendation

PERIODS = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(days=7),
           "month": timedelta(days=30)}
TOP = 10
SUMMARY_FIELDS = ("requests", "errors", "error_rate", "avg_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms",
                  "db_queries_per_request", "cache_hit_rate", "response_bytes", "bytes_saved")


def period_bounds(period: str, end: datetime | None = None) -> tuple[datetime, datetime]:
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}")
    end = end or timezone.now()
    return end - PERIODS[period], end


def _rounded(value):
    return round(value, 4) if isinstance(value, float) else value


def _traffic(start: datetime, end: datetime) -> dict[str, Any]:
    stats = selectors.traffic_stats(start, end).as_dict()
    return {key: _rounded(stats[key]) for key in SUMMARY_FIELDS}


def _change(now_value, before_value):
    if now_value is None or before_value in (None, 0):
        return None
    return round((now_value - before_value) / before_value * 100, 1)


def _top_routes(start: datetime, end: datetime) -> dict[str, list[dict]]:
    def shape(row):
        s = row.stats
        return {"route": row.route, "requests": s.requests, "total_s": round((s.avg_ms or 0) * s.requests / 1000, 3),
                "avg_ms": _rounded(s.avg_ms), "p95_ms": _rounded(s.p95_ms), "max_ms": s.max_ms, "errors": s.errors}

    by_time = selectors.route_stats(start, end, order_by="total_ms", limit=TOP)
    by_errors = [r for r in selectors.route_stats(start, end, order_by="errors", limit=TOP) if r.stats.errors]
    return {"by_time": [shape(r) for r in by_time], "by_errors": [shape(r) for r in by_errors]}


def _resources(start: datetime, end: datetime) -> list[dict]:
    rows = (HostSample.objects.filter(at__gte=start, at__lt=end).values("host")
            .annotate(samples=Count("id"), cpu_avg=Avg("cpu_percent"), cpu_max=Max("cpu_percent"),
                      memory_avg=Avg("memory_percent"), memory_max=Max("memory_percent"),
                      disk_max=Max("disk_percent"), load_max=Max("load1")).order_by("host"))
    return [{k: (round(v, 2) if isinstance(v, float) else v) for k, v in row.items()} for row in rows]


def _slow_queries(start: datetime, end: datetime) -> list[dict]:
    return [{"fingerprint": q.fingerprint, "route": q.route, "count": q.slow_count, "mean_ms": _rounded(q.mean_ms),
             "max_ms": q.max_ms, "nplus1_requests": q.nplus1_requests, "sql": q.sql}
            for q in selectors.slow_queries(start, end, limit=TOP)]


def _alerts(start: datetime, end: datetime) -> list[dict]:
    alerts = (Alert.objects.select_related("rule").filter(fired_at__gte=start, fired_at__lt=end)
              .order_by("-fired_at")[:100])
    return [{"rule": a.rule.name, "severity": a.severity, "labels": a.labels, "state": a.state,
             "fired_at": a.fired_at.isoformat(), "resolved_at": a.resolved_at.isoformat() if a.resolved_at else None,
             "value": a.value, "threshold": a.threshold} for a in alerts]


def _scaling(start: datetime, end: datetime) -> list[dict]:
    from scaling.selectors import events_between

    events = events_between(start, end, newest_first=True, limit=200)
    return [{"group": e.group.name, "at": e.at.isoformat(), "kind": e.kind, "from": e.from_instances,
             "to": e.to_instances, "result": e.result, "reason": e.reason, "actor": e.actor_label,
             "metrics": e.metrics} for e in events]


def _recommendations() -> list[dict]:
    return [{"title": r.title, "kind": r.kind, "subject": r.subject, "impact": r.impact, "action": r.action}
            for r in Recommendation.objects.filter(status=Recommendation.Status.OPEN).order_by("-impact")[:TOP]]


def build_report(*, period: str = "day", end: datetime | None = None) -> dict[str, Any]:
    """The report for the `period` ending at `end` (default now). ValueError for a bad period."""
    start, end = period_bounds(period, end)
    previous_start = start - PERIODS[period]
    current, previous = _traffic(start, end), _traffic(previous_start, start)
    trend = {key: _change(current[key], previous[key])
             for key in ("requests", "error_rate", "avg_ms", "p95_ms", "cache_hit_rate")}
    return {
        "period": period, "start": start.isoformat(), "end": end.isoformat(),
        "summary": current, "previous": previous, "trend_percent": trend,
        "top_routes": _top_routes(start, end),
        "resources": _resources(start, end),
        "slow_queries": _slow_queries(start, end),
        "alerts": _alerts(start, end),
        "scaling_events": _scaling(start, end),
        "recommendations": _recommendations(),
    }


_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A cell that a spreadsheet will not run as a formula (OWASP: prefix with a quote)."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = value if isinstance(value, str) else str(value)
    return "'" + text if text.startswith(_DANGEROUS) else text


def render_csv(report: dict[str, Any]) -> str:
    """One CSV with a block per section: a `section` column, then the section's own columns."""
    out = io.StringIO()
    writer = csv.writer(out)

    def block(section: str, rows: list[dict]) -> None:
        if not rows:
            writer.writerow([section, "(none)"])
            return
        columns = list(rows[0])
        writer.writerow(["section", *columns])
        for row in rows:
            writer.writerow([section, *(safe_cell(row.get(c)) for c in columns)])

    writer.writerow(["section", "period", "start", "end"])
    writer.writerow(["report", report["period"], report["start"], report["end"]])
    block("summary", [{"metric": k, "value": v, "previous": report["previous"][k],
                       "change_percent": report["trend_percent"].get(k)} for k, v in report["summary"].items()])
    block("top_routes_by_time", report["top_routes"]["by_time"])
    block("top_routes_by_errors", report["top_routes"]["by_errors"])
    block("resources", report["resources"])
    block("slow_queries", report["slow_queries"])
    block("alerts", report["alerts"])
    block("scaling_events", [{**e, "metrics": e["metrics"]} for e in report["scaling_events"]])
    block("recommendations", report["recommendations"])
    return out.getvalue()
