"""Host metrics (from the psutil collector's samples) in the metric registry."""
from __future__ import annotations

from django.db.models import Avg, Count, Max, Min, Sum

from .models import HostSample
from .registry import Metric, Query, Series, register

_AGGREGATE = {"avg": Avg, "max": Max, "min": Min, "sum": Sum, "count": Count}
FIELDS = {
    "host.cpu_percent": ("cpu_percent", "CPU busy, all cores", "percent"),
    "host.memory_percent": ("memory_percent", "memory in use", "percent"),
    "host.swap_percent": ("swap_percent", "swap in use", "percent"),
    "host.disk_percent": ("disk_percent", "disk space in use", "percent"),
    "host.load1": ("load1", "1-minute load average", "processes"),
}


def _reader(field: str):
    def read(query: Query) -> list[Series]:
        samples = HostSample.objects.filter(at__gte=query.start, at__lt=query.end)
        if "host" in query.labels:
            samples = samples.filter(host=query.labels["host"])
        if query.aggregation == "last":
            latest = {}
            for host, value in samples.order_by("host", "-at").values_list("host", field):
                latest.setdefault(host, value)
            return [Series({"host": host}, float(value)) for host, value in latest.items()]
        rows = samples.values("host").annotate(value=_AGGREGATE[query.aggregation](field))
        return [Series({"host": row["host"]}, float(row["value"])) for row in rows if row["value"] is not None]

    return read


def register_host_metrics() -> None:
    for name, (field, description, unit) in FIELDS.items():
        register(Metric(name, description, unit, ("host",), _reader(field),
                        aggregations=("avg", "max", "min", "last", "count")))
