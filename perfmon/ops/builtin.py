"""perfmon's own recommendation rules and optimization passes."""
from __future__ import annotations

from .optimize import register_pass
from .recommendations import refresh_recommendations


def _refresh_pass(*, actor, reason) -> dict:
    result = refresh_recommendations()
    return {"created": result.created, "updated": result.updated, "gone": result.gone, "errors": result.errors}


register_pass("cache", "recommendations", _refresh_pass)


def _read_scaling_events(query):
    """One series per scaling event in the window (so every event gets its own notice),
    valued at the instance count it asked for."""
    from scaling.models import ScalingEvent

    from perfmon.registry import Series

    events = ScalingEvent.objects.select_related("group").filter(at__gte=query.start, at__lt=query.end).exclude(
        result="noop")
    if "group" in query.labels:
        events = events.filter(group__name=query.labels["group"])
    return [Series({"group": e.group.name, "kind": e.kind, "event": str(e.pk), "result": e.result},
                   float(e.to_instances)) for e in events[:200]]


def _register_metrics() -> None:
    from perfmon.registry import Metric, register

    register(Metric("scaling.events", "scaling events (one series per event)", "instances",
                    ("group", "kind", "event", "result"), _read_scaling_events, aggregations=("last",)))


_register_metrics()
