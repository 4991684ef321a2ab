"""perfmon's own recommendation rules, optimization passes and metrics.

Rules look at the last hour of traffic: N+1 query suspicions per route, routes slower
than the API response target, a cache hit rate under its target, and large responses
that leave uncompressed. Each finding carries its evidence and its impact (seconds of
request time or bytes per hour) so the console ranks by what is worth fixing first.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from perfmon import selectors

from . import live_settings
from .optimize import register_pass
from .recommendations import Finding, refresh_recommendations, register_rule

WINDOW = timedelta(hours=1)
MIN_REQUESTS = 20
LARGE_RESPONSE_BYTES = 100_000


def n_plus_one(now: datetime) -> list[Finding]:
    found = []
    for q in selectors.slow_queries(now - WINDOW, now, nplus1_only=True, limit=50):
        per_request = q.nplus1_executions / q.nplus1_requests if q.nplus1_requests else 0
        found.append(Finding(
            kind="perfmon.n_plus_one", subject=f"{q.route} {q.fingerprint}",
            title=f"N+1 queries on {q.route}: one query shape about {per_request:.0f} times per request",
            detail="Load the related rows in one query (select_related / prefetch_related) instead of one per item.",
            evidence={"route": q.route, "sql": q.sql, "requests": q.nplus1_requests,
                      "executions": q.nplus1_executions, "window": "1h"},
            impact=float(q.nplus1_executions)))
    return found


def slow_routes(now: datetime) -> list[Finding]:
    target = float(live_settings.get("API_RESPONSE_TARGET"))
    found = []
    for row in selectors.route_stats(now - WINDOW, now, order_by="total_ms", limit=50):
        s = row.stats
        if s.requests < MIN_REQUESTS or s.avg_ms is None or s.avg_ms <= target:
            continue
        found.append(Finding(
            kind="perfmon.slow_route", subject=row.route,
            title=f"{row.route} averages {s.avg_ms:.0f} ms (target {target:.0f} ms)",
            detail=(f"{s.db_queries_per_request or 0:.1f} queries and {s.db_ms_per_request or 0:.0f} ms of database "
                    "time per request; look at its slow queries and plan, or cache its reads."),
            evidence={"route": row.route, "requests": s.requests, "avg_ms": s.avg_ms, "p95_ms": s.p95_ms,
                      "db_queries_per_request": s.db_queries_per_request, "db_ms_per_request": s.db_ms_per_request},
            impact=round((s.avg_ms - target) * s.requests / 1000, 3)))
    return found


def low_cache_hit_rate(now: datetime) -> list[Finding]:
    target = float(live_settings.get("CACHE_HIT_RATE_TARGET"))
    stats = selectors.traffic_stats(now - WINDOW, now)
    lookups = stats.cache_hits + stats.cache_misses
    if lookups < 100 or stats.cache_hit_rate is None or stats.cache_hit_rate >= target:
        return []
    return [Finding(kind="perfmon.low_cache_hit_rate", subject="cache",
                    title=f"Cache hit rate {stats.cache_hit_rate:.0%} is under the {target:.0%} target",
                    detail="Cache the expensive reads with longer timeouts, or warm them (optimize type=cache).",
                    evidence={"hits": stats.cache_hits, "misses": stats.cache_misses,
                              "hit_rate": stats.cache_hit_rate, "redis_hit_rate": selectors.latest_value(
                                  "redis.hit_rate")},
                    impact=float(stats.cache_misses), action="perfmon.warm_cache")]


def uncompressed_responses(now: datetime) -> list[Finding]:
    found = []
    for row in selectors.route_stats(now - WINDOW, now, limit=None):
        s = row.stats
        if s.requests < MIN_REQUESTS or s.response_bytes / s.requests < LARGE_RESPONSE_BYTES or s.bytes_saved:
            continue
        found.append(Finding(
            kind="perfmon.uncompressed_responses", subject=row.route,
            title=f"{row.route} sends {s.response_bytes / s.requests / 1000:.0f} kB per response uncompressed",
            detail="Its content type is not in PERFMON COMPRESS_TYPES, or it is already compressed: check it.",
            evidence={"route": row.route, "requests": s.requests, "response_bytes": s.response_bytes},
            impact=float(s.response_bytes)))
    return found


def warm_cache(*, actor=None, reason="", params=None) -> dict:
    """Fill the read-through cache with the dashboard's ranges, so the next view is a hit."""
    from .dashboard import RANGES, cached_dashboard, invalidate_cache

    invalidate_cache()
    warmed = [name for name in RANGES if cached_dashboard(name) is not None]
    return {"warmed": warmed}


def _cache_pass(*, actor, reason) -> dict:
    now_stats = selectors.traffic_stats(*_last_hour())
    result = refresh_recommendations()
    return {"cache_hit_rate": now_stats.cache_hit_rate, "target": live_settings.get("CACHE_HIT_RATE_TARGET"),
            "redis_hit_rate": selectors.latest_value("redis.hit_rate"), **warm_cache(),
            "recommendations": {"created": result.created, "updated": result.updated, "gone": result.gone}}


def _last_hour():
    from django.utils import timezone

    end = timezone.now()
    return end - WINDOW, end


def _read_scaling_events(query):
    """One series per scaling event in the window (so every event gets its own notice),
    valued at the instance count it asked for."""
    from scaling.selectors import events_between

    from perfmon.registry import Series

    events = events_between(query.start, query.end, group=query.labels.get("group"), include_noop=False,
                            newest_first=True, limit=200)
    return [Series({"group": e.group.name, "kind": e.kind, "event": str(e.pk), "result": e.result},
                   float(e.to_instances)) for e in events]


def register() -> None:
    from perfmon.registry import Metric, register as register_metric

    from .recommendations import register_action

    register_metric(Metric("scaling.events", "scaling events (one series per event)", "instances",
                           ("group", "kind", "event", "result"), _read_scaling_events, aggregations=("last",)))
    register_rule("perfmon.n_plus_one", n_plus_one)
    register_rule("perfmon.slow_route", slow_routes)
    register_rule("perfmon.low_cache_hit_rate", low_cache_hit_rate)
    register_rule("perfmon.uncompressed_responses", uncompressed_responses)
    register_action("perfmon.warm_cache", warm_cache)
    register_pass("cache", "warm_and_review", _cache_pass)
    register_rule("scaling.capped_at_max", capped_groups)
    register_action("scaling.set_group_limits", _set_group_limits)


def capped_groups(now: datetime) -> list[Finding]:
    """Scaling groups whose policies asked for more than their maximum in the last hour."""
    from scaling.models import ScalingEvent, ScalingGroup

    found = []
    for group in ScalingGroup.objects.all():
        asked = [p.get("desired", 0) for e in ScalingEvent.objects.filter(
            group=group, at__gte=now - WINDOW).only("decision") for p in (e.decision or {}).get("proposals", [])]
        peak = max(asked, default=0)
        if peak <= group.max_instances:
            continue
        new_max = min(1000, max(group.max_instances + 1, -(-peak * 5 // 4)))
        found.append(Finding(
            kind="scaling.capped_at_max", subject=group.name,
            title=f"Group {group.name} is capped at {group.max_instances}; its policies asked for {peak}",
            detail=f"Raise max_instances to {new_max} so the autoscaler can follow the load.",
            evidence={"group": group.name, "max_instances": group.max_instances, "peak_proposal": peak,
                      "proposals_over_max": sum(1 for a in asked if a > group.max_instances)},
            impact=float(peak - group.max_instances), action="scaling.set_group_limits",
            action_params={"group": group.name, "min_instances": group.min_instances, "max_instances": new_max}))
    return found


def _set_group_limits(*, params, actor, reason) -> dict:
    from scaling.services import set_group_limits

    group = set_group_limits(group=params["group"], min_instances=int(params["min_instances"]),
                             max_instances=int(params["max_instances"]), actor=actor, reason=reason)
    return {"group": group.name, "min_instances": group.min_instances, "max_instances": group.max_instances}



register()
