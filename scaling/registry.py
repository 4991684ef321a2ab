"""scaling's metrics in perfmon's metric registry (alerts, reports and the dashboard
read them by name): what each tick recorded per group, labelled by group."""
from __future__ import annotations

from collections import defaultdict

from perfmon.registry import Metric, Query, Series, register

from .models import LoadSample

METRICS = {
    "scaling.ready_instances": (None, "ready instances of the group", "instances"),
    "scaling.request_rate": ("request_rate", "the group's request rate as the autoscaler saw it", "requests/min"),
    "scaling.cpu_percent": ("cpu_percent", "average CPU of the group's ready instances", "percent"),
    "scaling.response_time_p95_ms": ("response_time_p95_ms", "the group's p95 response time", "ms"),
    "scaling.queue_depth": ("queue_depth", "messages waiting for the group's workers", "messages"),
}
AGGREGATIONS = ("avg", "max", "min", "last", "count")


def _reader(key: str | None):
    def read(query: Query) -> list[Series]:
        rows = LoadSample.objects.filter(at__gte=query.start, at__lt=query.end).order_by("at")
        if "group" in query.labels:
            rows = rows.filter(group__name=query.labels["group"])
        values: dict[str, list[float]] = defaultdict(list)
        for group, ready, sample in rows.values_list("group__name", "ready_instances", "values"):
            value = ready if key is None else sample.get(key)
            if value is not None:
                values[group].append(float(value))
        return [Series({"group": group}, _aggregate(query.aggregation, series))
                for group, series in values.items() if series]

    return read


def _aggregate(how: str, series: list[float]) -> float:
    if how == "last":
        return series[-1]
    if how == "count":
        return float(len(series))
    if how == "max":
        return max(series)
    if how == "min":
        return min(series)
    return sum(series) / len(series)


def register_scaling_metrics() -> None:
    for name, (key, description, unit) in METRICS.items():
        register(Metric(name, description, unit, ("group",), _reader(key), aggregations=AGGREGATIONS))
