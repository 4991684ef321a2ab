"""Reads for the tick, admin, API, commands and dashboard.

`decision_inputs` is the one place a group's database rows become the inputs of
`scaling.decision.decide`: the tick and the "what would the next tick do" preview
both use it, and the replay builds the same inputs from a trace.
"""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count, Prefetch, Q

from . import metrics as metric_sources
from .backends.base import GroupSpec, ScalingBackend
from .conf import scaling_settings
from .decision import Behavior, GroupView, History, HistoryPoint, Memory, Metrics, decide
from .models import Instance, LoadSample, Policy, ScalingEvent, ScalingGroup
from .policies import PolicyConfigError, build_policy

State = Instance.State


def behavior_for(group: ScalingGroup) -> Behavior:
    return Behavior(
        tick_seconds=float(scaling_settings.TICK_SECONDS),
        warmup_seconds=float(group.warmup_seconds),
        scale_up_limit_instances=group.scale_up_limit_instances,
        scale_up_limit_percent=group.scale_up_limit_percent,
        scale_down_limit_percent=group.scale_down_limit_percent,
        rate_limit_period_seconds=float(group.rate_limit_period_seconds),
        scale_down_stabilization_seconds=float(group.scale_down_stabilization_seconds),
        scale_up_cooldown_seconds=float(group.scale_up_cooldown_seconds),
        scale_down_cooldown_seconds=float(group.scale_down_cooldown_seconds),
    )


def policies_for(group: ScalingGroup) -> list:
    """The group's enabled policies, built; a broken row is skipped (checks.py reports it)."""
    built = []
    for row in group.policies.all():
        if not row.enabled:
            continue
        try:
            built.append(build_policy(row.kind, row.metric, row.params))
        except PolicyConfigError:
            continue
    return built


def group_view(group: ScalingGroup) -> GroupView:
    counts = group.instances.aggregate(ready=Count("id", filter=Q(state=State.READY)),
                                       starting=Count("id", filter=Q(state=State.STARTING)))
    return GroupView(current=group.desired_instances, ready=counts["ready"], starting=counts["starting"],
                     min_instances=group.min_instances, max_instances=group.max_instances)


def load_history(group: ScalingGroup, now: float) -> History:
    """Load samples for the predictive policy: the trend window at full resolution and,
    for seasonality, about a day and an hour back in one-minute buckets."""
    since = datetime.fromtimestamp(now, tz=UTC) - timedelta(days=1, hours=1)
    rows = LoadSample.objects.filter(group=group, at__gte=since).order_by("at").values_list(
        "at", "ready_instances", "values")
    points = History()
    last_bucket = None
    for at, ready, values in rows.iterator(chunk_size=2000):
        t = at.timestamp()
        bucket = int(t // 60)
        if now - t > 900 and bucket == last_bucket:
            continue  # older than the trend window: one point a minute is plenty
        last_bucket = bucket
        points.append(HistoryPoint(t, ready, values))
    return points


def group_metrics(group: ScalingGroup, backend: ScalingBackend, spec: GroupSpec) -> Metrics:
    """The group's current metrics from stored instance readings and the metric sources."""
    ready = list(group.instances.filter(state=State.READY))
    readings = [metric_sources.InstanceReading(i.instance_id, i.cpu_percent, i.memory_percent, None, 0.0)
                for i in ready]
    latencies = [i.latency_ms for i in ready if i.latency_ms is not None]
    queue = backend.queue_depth(spec) if "queue" in backend.features else None
    return metric_sources.combine(group=group.name, readings=readings, latencies=latencies, queue_depth=queue)


def decision_inputs(group: ScalingGroup, metrics: Metrics, now: float) -> dict[str, Any]:
    return {"group": group_view(group), "metrics": metrics, "policies": policies_for(group),
            "behavior": behavior_for(group), "memory": Memory.from_json(group.decision_state),
            "history": load_history(group, now)}


def preview_decision(group: ScalingGroup, *, now: float | None = None) -> dict[str, Any]:
    """What the next tick would decide now, and why; reads only (no probe, no write)."""
    from .services import backend_for

    try:
        backend, spec = backend_for(group)
        metrics = group_metrics(group, backend, spec)
    except Exception as exc:  # shown to the operator, not hidden
        return {"error": str(exc), "metrics": {}}
    now = time.time() if now is None else now
    decision = decide(now=now, **decision_inputs(group, metrics, now))
    body = decision.as_dict()
    body["metrics"] = metrics.as_dict()
    body["would_apply"] = bool(group.enabled and scaling_settings.AUTO_SCALING_ENABLED)
    return body


def groups_overview(*, events_per_group: int = 10, with_preview: bool = True) -> list[dict[str, Any]]:
    """Groups with their live instances, recent events, metrics and the next decision."""
    live = Instance.objects.exclude(state=State.STOPPED).order_by("slot")
    groups = ScalingGroup.objects.prefetch_related(
        Prefetch("instances", queryset=live, to_attr="live_instances"),
        Prefetch("policies", queryset=Policy.objects.order_by("position", "id")))
    out = []
    for group in groups:
        events = list(ScalingEvent.objects.filter(group=group).select_related("group")[:events_per_group])
        out.append({"group": group, "instances": group.live_instances, "events": events,
                    "next": preview_decision(group) if with_preview else None})
    return out


def recent_events(*, group: str | None = None, limit: int = 50) -> list[ScalingEvent]:
    qs = ScalingEvent.objects.select_related("group")
    if group:
        qs = qs.filter(group__name=group)
    return list(qs[:limit])


def events_between(start: datetime, end: datetime, *, group: str | None = None, include_noop: bool = True,
                   newest_first: bool = False, limit: int = 200) -> list[ScalingEvent]:
    """Scaling events with `start <= at < end`, their group loaded, oldest first unless
    `newest_first`; at most `limit` (the dashboard, reports and alert rules read these)."""
    qs = ScalingEvent.objects.select_related("group").filter(at__gte=start, at__lt=end)
    if group:
        qs = qs.filter(group__name=group)
    if not include_noop:
        qs = qs.exclude(result=ScalingEvent.Result.NOOP)
    return list(qs.order_by("-at" if newest_first else "at")[:limit])


def instances_before(moment: datetime) -> dict[str, int]:
    """Per group, the instance count its last non-failed scaling event before `moment` set."""
    counts: dict[str, int] = {}
    rows = (ScalingEvent.objects.filter(at__lt=moment).exclude(result=ScalingEvent.Result.FAILED)
            .order_by("group_id", "-at").values_list("group__name", "to_instances"))
    for name, to in rows:
        counts.setdefault(name, to)
    return counts


def live_instance_count() -> int:
    return Instance.objects.filter(state__in=[State.STARTING, State.READY]).count()


def instance_counts(group: ScalingGroup) -> dict[str, int]:
    rows = group.instances.values("state").annotate(n=Count("id"))
    return {row["state"]: row["n"] for row in rows}
