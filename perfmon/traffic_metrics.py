"""The pipeline's metrics in the registry (perfmon.registry), for alerts, reports and
the dashboard. Names and what `aggregation` means for each:

  http.requests            per route; rate (per second), count/sum (requests)
  http.error_rate          per route; the share of 5xx (any aggregation but count)
  http.latency_ms          per route; p50 p90 p95 p99 avg max count
  http.db_queries          per route; avg (per request), sum, max (per request, over routes)
  cache.hit_rate           overall; app cache hits / lookups counted in requests
  http.bytes_saved         overall; sum/rate of bytes compression saved
  db.slow_queries          per route; count (slow executions), max (worst ms), avg (mean ms)
  db.nplus1_requests       per route; count of requests with an N+1 suspicion
  celery.task_duration_ms  per task; p50 p90 p95 p99 avg max count
  celery.task_failures     per task; count, rate
  redis.*, celery.queue_depth, celery.workers, db.connections* : collector gauges
"""
from __future__ import annotations

from .registry import Metric, Query, Series, register
from .schema import HTTP, TASK
from .selectors import route_stats, slow_queries, traffic_stats

PERCENTILES = ("p50", "p90", "p95", "p99")


def _stats_by_route(query: Query, kind: str = HTTP):
    route = query.labels.get("route")
    if route is not None:
        return [(route, traffic_stats(query.start, query.end, route=route, kind=kind))]
    return [(r.route, r.stats) for r in route_stats(query.start, query.end, kind=kind, limit=None)]


def _label(kind: str) -> str:
    return "task" if kind == TASK else "route"


def _latency_reader(kind: str):
    def read(query: Query) -> list[Series]:
        if kind == TASK and "task" in query.labels:
            query = Query(query.end, query.window, query.aggregation, {"route": query.labels["task"]})
        out = []
        for route, stats in _stats_by_route(query, kind):
            if not stats.requests:
                continue
            agg = query.aggregation
            value = {"avg": stats.avg_ms, "max": stats.max_ms, "count": stats.requests,
                     **{p: getattr(stats, f"{p}_ms") for p in PERCENTILES}}.get(agg)
            if value is not None:
                out.append(Series({_label(kind): route}, float(value)))
        return out

    return read


def _read_requests(query: Query) -> list[Series]:
    return [Series({"route": route}, stats.rate_per_second if query.aggregation == "rate" else float(stats.requests))
            for route, stats in _stats_by_route(query) if stats.requests]


def _read_error_rate(query: Query) -> list[Series]:
    if "route" not in query.labels and query.aggregation in ("avg", "last"):
        stats = traffic_stats(query.start, query.end)
        return [Series({}, stats.error_rate)] if stats.requests else []
    return [Series({"route": route}, stats.error_rate) for route, stats in _stats_by_route(query) if stats.requests]


def _read_db_queries(query: Query) -> list[Series]:
    out = []
    for route, stats in _stats_by_route(query):
        if stats.requests:
            per = stats.db_queries_per_request or 0.0
            out.append(Series({"route": route}, per * stats.requests if query.aggregation == "sum" else per))
    return out


def _read_cache_hit_rate(query: Query) -> list[Series]:
    stats = traffic_stats(query.start, query.end)
    return [Series({}, stats.cache_hit_rate)] if stats.cache_hit_rate is not None else []


def _read_bytes_saved(query: Query) -> list[Series]:
    stats = traffic_stats(query.start, query.end)
    saved = float(stats.bytes_saved)
    return [Series({}, saved / query.window.total_seconds() if query.aggregation == "rate" else saved)]


def _read_slow_queries(query: Query) -> list[Series]:
    by_route: dict[str, list] = {}
    for q in slow_queries(query.start, query.end, route=query.labels.get("route"), limit=1000):
        if q.slow_count:
            by_route.setdefault(q.route, []).append(q)
    out = []
    for route, items in by_route.items():
        count = sum(q.slow_count for q in items)
        value = {"count": count, "max": max(q.max_ms for q in items),
                 "avg": sum((q.mean_ms or 0) * q.slow_count for q in items) / count}.get(query.aggregation)
        if value is not None:
            out.append(Series({"route": route}, float(value)))
    return out


def _read_nplus1(query: Query) -> list[Series]:
    by_route: dict[str, int] = {}
    for q in slow_queries(query.start, query.end, route=query.labels.get("route"), limit=1000, nplus1_only=True):
        by_route[q.route] = by_route.get(q.route, 0) + q.nplus1_requests
    return [Series({"route": route}, float(n)) for route, n in by_route.items()]


def _read_task_failures(query: Query) -> list[Series]:
    q = Query(query.end, query.window, "count", {"route": query.labels["task"]} if "task" in query.labels else {})
    return [Series({"task": name}, stats.errors / query.window.total_seconds() if query.aggregation == "rate"
                   else float(stats.errors)) for name, stats in _stats_by_route(q, TASK) if stats.requests]


def _sample_reader(name: str):
    def read(query: Query) -> list[Series]:
        from django.db.models import Avg, Count, Max, Min

        from .models import Sample
        from .selectors import labels_text, parse_labels

        rows = Sample.objects.filter(name=name, at__gte=query.start, at__lt=query.end)
        if query.labels:
            wanted = labels_text(query.labels)
            rows = rows.filter(labels=wanted)
        if query.aggregation == "last":
            latest: dict[str, float] = {}
            for labels, value in rows.order_by("labels", "-at").values_list("labels", "value"):
                latest.setdefault(labels, value)
            return [Series(parse_labels(k), float(v)) for k, v in latest.items()]
        func = {"avg": Avg, "max": Max, "min": Min, "count": Count}[query.aggregation]
        return [Series(parse_labels(r["labels"]), float(r["v"]))
                for r in rows.values("labels").annotate(v=func("value")).order_by() if r["v"] is not None]

    return read


SAMPLES = {
    "redis.hit_rate": ("Redis keyspace hit rate (since the server started)", "ratio", ()),
    "redis.used_memory_bytes": ("Redis memory in use", "bytes", ()),
    "redis.memory_percent": ("Redis memory in use, share of maxmemory", "percent", ()),
    "redis.evicted_keys": ("keys Redis evicted since it started", "keys", ()),
    "redis.connected_clients": ("Redis clients connected", "clients", ()),
    "redis.ops_per_sec": ("Redis commands per second", "ops/s", ()),
    "celery.queue_depth": ("messages waiting in a Celery queue", "messages", ("queue",)),
    "celery.workers": ("Celery workers answering a ping", "workers", ()),
    "db.connections": ("database connections by state", "connections", ("state",)),
    "db.connections_total": ("database connections in use", "connections", ()),
    "db.connections_percent": ("database connections, share of max_connections", "percent", ()),
}


def register_traffic_metrics() -> None:
    latency_aggs = (*PERCENTILES, "avg", "max", "count")
    register(Metric("http.requests", "HTTP requests", "requests", ("route",), _read_requests,
                    aggregations=("rate", "count", "sum")))
    register(Metric("http.error_rate", "share of HTTP requests answered 5xx", "ratio", ("route",),
                    _read_error_rate, aggregations=("avg", "last", "max")))
    register(Metric("http.latency_ms", "HTTP request duration", "ms", ("route",), _latency_reader(HTTP),
                    aggregations=latency_aggs))
    register(Metric("http.db_queries", "database queries per request", "queries", ("route",), _read_db_queries,
                    aggregations=("avg", "sum")))
    register(Metric("cache.hit_rate", "cache hits per lookup, counted in requests", "ratio", (),
                    _read_cache_hit_rate, aggregations=("avg", "last")))
    register(Metric("http.bytes_saved", "response bytes saved by compression", "bytes", (), _read_bytes_saved,
                    aggregations=("sum", "rate")))
    register(Metric("db.slow_queries", "queries over SLOW_QUERY_THRESHOLD seen by the app", "queries", ("route",),
                    _read_slow_queries, aggregations=("count", "max", "avg")))
    register(Metric("db.nplus1_requests", "requests running one query shape many times", "requests", ("route",),
                    _read_nplus1, aggregations=("count",)))
    register(Metric("celery.task_duration_ms", "Celery task run time", "ms", ("task",), _latency_reader(TASK),
                    aggregations=latency_aggs))
    register(Metric("celery.task_failures", "Celery tasks that failed", "tasks", ("task",), _read_task_failures,
                    aggregations=("count", "rate")))
    for name, (description, unit, labels) in SAMPLES.items():
        register(Metric(name, description, unit, labels, _sample_reader(name),
                        aggregations=("avg", "max", "min", "last", "count")))
