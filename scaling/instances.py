"""Instances of a group: health probes, state changes, and bringing the backend to the
group's desired size. Used by every action in services.py that changes a group."""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from . import metrics as metric_sources
from .backends.base import GroupSpec, InstanceInfo, ReplicaStatus, ScalingBackend
from .backends.process import latency_weights
from .conf import scaling_settings
from .errors import BackendError
from .models import Instance, ScalingGroup

State = Instance.State
GONE = "process or container is gone"


@dataclass(frozen=True)
class ApplyReport:
    started: tuple[str, ...] = ()
    stopped: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    serving: int = 0
    ready: int = 0
    published: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.started or self.stopped)


def _info(instance: Instance) -> InstanceInfo:
    return InstanceInfo(instance.instance_id, instance.address, instance.slot, instance.meta)


def refresh_instances(group: ScalingGroup, backend: ScalingBackend, spec: GroupSpec) -> list[str]:
    """Probe every live instance; update states and usage. Returns what changed, readably."""
    if "replicas" in backend.features:
        return _mirror_replicas(group, backend.get_replicas(spec))
    notes: list[str] = []
    now = timezone.now()
    wall = time.time()
    for inst in group.instances.filter(state__in=[State.STARTING, State.READY, State.UNHEALTHY, State.DRAINING]):
        info = _info(inst)
        if "instances" in backend.features and not backend.is_alive(spec, info):
            inst.state, inst.stopped_at, inst.last_health_ok = State.STOPPED, now, False
            inst.last_health_detail = GONE
            inst.save()
            notes.append(f"{inst.instance_id} died")
            continue
        if inst.state == State.DRAINING:
            continue
        health = backend.check_health(spec, info)
        inst.last_health_at, inst.last_health_ok = now, health.ok
        inst.last_health_detail, inst.latency_ms = health.detail[:255], health.latency_ms
        notes.extend(_health_transition(inst, health.ok, now))
        reading = metric_sources.read_instance(backend, spec, info, inst.meta.get("usage"), wall)
        if reading is not None:
            inst.cpu_percent, inst.memory_percent = reading.cpu_percent, reading.memory_percent
            inst.meta = {**inst.meta, "usage": {"cpu_seconds": reading.cpu_seconds, "cpu_at": wall,
                                                "rss_bytes": reading.rss_bytes}}
        inst.save()
    return notes


def _health_transition(inst: Instance, ok: bool, now: datetime) -> list[str]:
    if ok:
        inst.health_failures = 0
        if inst.state in (State.STARTING, State.UNHEALTHY):
            was = inst.state
            inst.state, inst.ready_at = State.READY, inst.ready_at or now
            return [f"{inst.instance_id} ready"] if was == State.STARTING else [f"{inst.instance_id} recovered"]
        return []
    inst.health_failures += 1
    if inst.state == State.STARTING:
        age = (now - inst.started_at).total_seconds()
        if age > float(scaling_settings.STARTUP_TIMEOUT_SECONDS):
            inst.state = State.UNHEALTHY
            return [f"{inst.instance_id} not healthy {age:.0f}s after start"]
    elif inst.state == State.READY and inst.health_failures >= int(scaling_settings.UNHEALTHY_AFTER):
        inst.state = State.UNHEALTHY
        return [f"{inst.instance_id} unhealthy: {inst.last_health_detail}"]
    return []


def crash_backoff(group: ScalingGroup) -> str | None:
    """Why starting is held back, or None. Instances that exited before ever becoming
    ready in the last 10 minutes double the wait before the next start (15 s, 30 s, ...
    up to 5 minutes), as Kubernetes does for a crash loop, so a broken command does not
    spawn a process and an event every tick."""
    since = timezone.now() - timedelta(minutes=10)
    crashed = group.instances.filter(state=State.STOPPED, ready_at__isnull=True, stopped_at__gte=since,
                                     last_health_detail=GONE)
    count = crashed.count()
    if not count:
        return None
    latest = crashed.order_by("-stopped_at").values_list("stopped_at", flat=True).first()
    wait = min(300.0, float(scaling_settings.TICK_SECONDS) * 2 ** (count - 1))
    left = wait - (timezone.now() - latest).total_seconds()
    if left <= 0:
        return None
    return (f"start: held back {left:.0f}s more: {count} instance(s) exited before becoming ready in the "
            f"last 10 minutes (see their logs)")


def _free_slot(used: set[int]) -> int:
    slot = 0
    while slot in used:
        slot += 1
    return slot


def _stop(backend: ScalingBackend, spec: GroupSpec, inst: Instance, errors: list[str]) -> bool:
    inst.state = State.DRAINING
    inst.save(update_fields=["state"])
    try:
        backend.stop_instance(spec, _info(inst))
    except BackendError as exc:
        errors.append(f"stop {inst.instance_id}: {exc.message}")
        return False
    inst.state, inst.stopped_at = State.STOPPED, timezone.now()
    inst.save(update_fields=["state", "stopped_at"])
    return True


def apply_desired(group: ScalingGroup, backend: ScalingBackend, spec: GroupSpec) -> ApplyReport:
    """Make the backend run `group.desired_instances`: start what is missing (replacing dead
    ones), stop extras (starting ones first, then the highest slots), retire unhealthy and
    draining ones once enough are ready (never below min while replacing), publish."""
    if "replicas" in backend.features:
        return _apply_replicas(group, backend, spec)
    live = list(group.instances.filter(state__in=[State.STARTING, State.READY, State.UNHEALTHY, State.DRAINING]))
    serving = [i for i in live if i.state in (State.STARTING, State.READY)]
    started, stopped, errors = [], [], []
    used = {i.slot for i in live}
    held = crash_backoff(group) if len(serving) < group.desired_instances else None
    if held:
        errors.append(held)
    while not held and len(serving) < group.desired_instances:
        slot = _free_slot(used)
        try:
            info = backend.start_instance(spec, slot=slot)
        except BackendError as exc:
            errors.append(f"start: {exc.message}")
            break
        inst = Instance.objects.create(group=group, instance_id=info.instance_id, address=info.address,
                                       slot=info.slot, meta=info.meta, state=State.STARTING)
        used.update({slot, info.slot})
        serving.append(inst)
        started.append(inst.instance_id)
    extra = len(serving) - group.desired_instances
    if extra > 0:
        victims = sorted(serving, key=lambda i: (i.state == State.READY, -i.slot))[:extra]
        for inst in victims:
            if _stop(backend, spec, inst, errors):
                stopped.append(inst.instance_id)
    ready = group.instances.filter(state=State.READY).count()
    for inst in [i for i in live if i.state in (State.UNHEALTHY, State.DRAINING)]:
        enough = ready >= min(group.desired_instances, group.min_instances) if inst.state == State.UNHEALTHY \
            else ready >= group.desired_instances
        if enough and _stop(backend, spec, inst, errors):
            stopped.append(inst.instance_id)
    published = _publish(group, backend, spec, errors)
    serving_now = group.instances.filter(state__in=[State.STARTING, State.READY]).count()
    return ApplyReport(tuple(started), tuple(stopped), tuple(errors), serving_now, ready, published)


def _publish(group: ScalingGroup, backend: ScalingBackend, spec: GroupSpec, errors: list[str]) -> str:
    if "upstream" not in backend.features:
        return ""
    members = list(group.instances.filter(state=State.READY).order_by("slot"))
    weights = latency_weights([m.latency_ms for m in members])
    try:
        return backend.publish(spec, [(_info(m), w) for m, w in zip(members, weights, strict=True)])
    except BackendError as exc:
        errors.append(f"publish: {exc.message}")
        return ""


def _apply_replicas(group: ScalingGroup, backend: ScalingBackend, spec: GroupSpec) -> ApplyReport:
    errors: list[str] = []
    try:
        status = backend.set_replicas(spec, group.desired_instances)
    except BackendError as exc:
        return ApplyReport(errors=(exc.message,), serving=group.instances.filter(
            state__in=[State.STARTING, State.READY]).count())
    _mirror_replicas(group, status)
    return ApplyReport(errors=tuple(errors), serving=status.desired, ready=status.ready,
                       published=f"replicas {status.desired} requested, {status.ready} ready")


def _mirror_replicas(group: ScalingGroup, status: ReplicaStatus) -> list[str]:
    """Instance rows follow what the orchestrator reports (pods, ready by their condition)."""
    notes, seen, now = [], set(), timezone.now()
    for info in status.instances:
        seen.add(info.instance_id)
        state = State.READY if info.instance_id in status.ready_ids else State.STARTING
        inst, created = Instance.objects.get_or_create(
            group=group, instance_id=info.instance_id,
            defaults={"address": info.address, "slot": info.slot, "meta": info.meta, "state": state,
                      "ready_at": now if state == State.READY else None})
        if not created and inst.state != state:
            inst.state, inst.ready_at = state, inst.ready_at or (now if state == State.READY else None)
            inst.save(update_fields=["state", "ready_at"])
            notes.append(f"{inst.instance_id} {'ready' if state == State.READY else 'not ready'}")
    gone = group.instances.exclude(instance_id__in=seen).exclude(state=State.STOPPED)
    gone.update(state=State.STOPPED, stopped_at=now)
    return notes
