"""The metric registry: every metric any app publishes, readable by name.

Alert rules, recommendations, reports and the dashboard read metrics only through
here, so a new app makes its metrics alertable by registering them (in its
AppConfig.ready()). A metric is a name, a unit, the labels it is split by, and a
reader: given a time window, an aggregation and label filters, it returns one value
per label set (a `Series`).

    from perfmon.registry import Metric, register
    register(Metric("cdn.miss_rate", "CDN cache miss share", "ratio", ("region",), read_miss_rate))
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

AGGREGATIONS = ("avg", "max", "min", "last", "sum", "count", "rate", "p50", "p90", "p95", "p99")


@dataclass(frozen=True)
class Query:
    """What a reader is asked: the window [start, end), how to aggregate, label filters."""

    end: datetime
    window: timedelta
    aggregation: str = "avg"
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def start(self) -> datetime:
        return self.end - self.window


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    value: float

    @property
    def key(self) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(self.labels.items()))


@dataclass(frozen=True)
class Metric:
    name: str
    description: str
    unit: str
    labels: tuple[str, ...]
    read: Callable[[Query], list[Series]]
    aggregations: tuple[str, ...] = AGGREGATIONS


class UnknownMetric(LookupError):
    pass


_metrics: dict[str, Metric] = {}


def register(metric: Metric) -> Metric:
    """Add (or replace, by name) a metric. Idempotent, so ready() may run twice."""
    _metrics[metric.name] = metric
    return metric


def get(name: str) -> Metric:
    try:
        return _metrics[name]
    except KeyError:
        raise UnknownMetric(f"no metric named {name!r}; known: {', '.join(sorted(_metrics)) or 'none'}") from None


def all_metrics() -> list[Metric]:
    return sorted(_metrics.values(), key=lambda m: m.name)


def choices() -> list[tuple[str, str]]:
    return [(m.name, f"{m.name} ({m.unit})") for m in all_metrics()]


def read(name: str, query: Query) -> list[Series]:
    metric = get(name)
    if query.aggregation not in metric.aggregations:
        raise ValueError(f"metric {name!r} does not support aggregation {query.aggregation!r}; "
                         f"use one of {', '.join(metric.aggregations)}")
    return metric.read(query)
