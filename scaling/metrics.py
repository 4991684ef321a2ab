"""Reading a group's metrics for the tick, behind one small interface.

Sources, in order (a later one fills only what an earlier one left empty):
1. pushed values: `report_metrics` (service) stores what an outside system measured
   (a load balancer's request rate and latency, a queue's depth) for a short TTL;
2. perfmon's traffic store (perfmon.selectors.traffic_stats): request rate, p95 and
   average latency of the platform's own requests, for the group that serves them;
3. the backend: CPU and memory of each instance (psutil for local processes),
   health-probe round trips as the response time, queue depth for worker pools;
4. PostgreSQL: connections to this database (pg_stat_activity).
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from datetime import timedelta

from django.core.cache import cache
from django.db import DatabaseError, connection
from django.utils import timezone

from .backends import ScalingBackend
from .backends.base import GroupSpec, InstanceInfo
from .conf import scaling_settings
from .decision import ALL_METRICS, Metrics

PUSH_KEY = "scaling:pushed:{group}"


@dataclass(frozen=True)
class InstanceReading:
    instance_id: str
    cpu_percent: float | None
    memory_percent: float | None
    cpu_seconds: float | None
    at: float
    rss_bytes: int | None = None


def push_ttl() -> float:
    return max(3 * float(scaling_settings.TICK_SECONDS), 30.0)


def store_pushed(group: str, values: dict[str, float], *, at: float | None = None) -> dict[str, Any]:
    payload = {"values": values, "at": at if at is not None else time.time()}
    cache.set(PUSH_KEY.format(group=group), payload, timeout=push_ttl())
    return payload


def read_pushed(group: str) -> dict[str, float]:
    payload = cache.get(PUSH_KEY.format(group=group))
    if not payload or time.time() - payload.get("at", 0) > push_ttl():
        return {}
    return {k: float(v) for k, v in payload.get("values", {}).items() if k in ALL_METRICS}


def read_instance(backend: ScalingBackend, spec: GroupSpec, instance: InstanceInfo,
                  previous: dict[str, Any] | None, now: float) -> InstanceReading | None:
    """CPU percent from the change in cumulative CPU seconds since the previous reading."""
    if "usage" not in backend.features:
        return None
    usage = backend.usage(spec, instance)
    if usage is None:
        return None
    cpu_percent = None
    if previous and usage.cpu_seconds is not None and previous.get("cpu_seconds") is not None:
        elapsed = now - float(previous.get("cpu_at", now))
        if elapsed > 0:
            cpu_percent = max(0.0, 100.0 * (usage.cpu_seconds - float(previous["cpu_seconds"])) / elapsed)
    return InstanceReading(instance.instance_id, cpu_percent, usage.memory_percent, usage.cpu_seconds, now,
                           usage.rss_bytes)


def _perfmon_values(group: str) -> dict[str, float]:
    """Request rate and latency of the platform's own traffic, from perfmon's store, for
    the group that serves it (SCALING["TRAFFIC_GROUP"], "web" by default)."""
    if group != scaling_settings.TRAFFIC_GROUP:
        return {}
    try:
        from perfmon.selectors import traffic_stats
    except ImportError:
        return {}
    end = timezone.now()
    try:
        stats = traffic_stats(end - timedelta(seconds=float(scaling_settings.TRAFFIC_WINDOW_SECONDS)), end)
    except DatabaseError:  # perfmon not migrated or its store unreachable: other signals still count
        return {}
    if not stats.requests:
        return {}
    values = {"request_rate": stats.rate_per_second * 60}
    if stats.p95_ms is not None:
        values["response_time_p95_ms"] = float(stats.p95_ms)
    if stats.avg_ms is not None:
        values["response_time_avg_ms"] = float(stats.avg_ms)
    return values


def _db_connections() -> float | None:
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return float(cursor.fetchone()[0])


def combine(*, group: str, readings: Sequence[InstanceReading], latencies: Sequence[float],
            queue_depth: float | None) -> Metrics:
    """The group's Metrics from every source (see the module docstring for the order)."""
    values: dict[str, float] = {}
    for source in (read_pushed(group), _perfmon_values(group)):
        for key, value in source.items():
            values.setdefault(key, value)
    cpu = [r.cpu_percent for r in readings if r.cpu_percent is not None]
    mem = [r.memory_percent for r in readings if r.memory_percent is not None]
    if cpu:
        values.setdefault("cpu_percent", sum(cpu) / len(cpu))
    if mem:
        values.setdefault("memory_percent", sum(mem) / len(mem))
    if latencies:
        ordered = sorted(latencies)
        values.setdefault("response_time_avg_ms", sum(ordered) / len(ordered))
        values.setdefault("response_time_p95_ms", ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))])
    if queue_depth is not None:
        values.setdefault("queue_depth", queue_depth)
    if "db_connections" not in values:
        count = _db_connections()
        if count is not None:
            values["db_connections"] = count
    known = {f.name for f in fields(Metrics)}
    return Metrics(**{k: v for k, v in values.items() if k in known})
