"""scaling's actions: one public function per action, each audited.

    create_group(...)          a group with the default policies
    scale_group(...)           manual override to N instances, with a reason
    pause_autoscaling(...)     stop the tick from resizing a group (health repair goes on)
    resume_autoscaling(...)
    replace_instance(...)      start a new instance, then retire the old one
    report_metrics(...)        an outside system reports the group's load
    autoscale_tick(...)        the beat task: health, metrics, decide, scale; one lease per group

Every change of size goes through `instances.apply_desired`, so manual, automatic and
health-driven changes start, stop and publish instances the same way.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from perfmon.audit import actor_label, audited
from perfmon.errors import ConflictError
from perfmon.locks import get_lease

from . import metrics as metric_sources
from .backends import get_backend
from .backends.base import GroupSpec, ScalingBackend
from .conf import scaling_settings
from .decision import ALL_METRICS, Decision, Memory, decide
from .errors import BackendError, OutOfBounds, ScalingError, UnknownGroup
from .models import Instance, LoadSample, Policy, ScalingEvent, ScalingGroup
from .instances import ApplyReport, _info, _mirror_replicas, apply_desired, refresh_instances
from .policies import PolicyConfigError, build_policy, default_policies
from .selectors import decision_inputs, group_metrics

log = logging.getLogger(__name__)
State = Instance.State
AUTOSCALER = "autoscaler"
HEALTH = "health"


@dataclass(frozen=True)
class ScaleResult:
    group: str
    from_instances: int
    to_instances: int
    reached_instances: int
    result: str
    event_id: int | None
    message: str


@dataclass(frozen=True)
class TickResult:
    group: str
    ran: bool
    detail: str
    decision: dict[str, Any] = field(default_factory=dict)
    event_id: int | None = None


# -- helpers -------------------------------------------------------------------------------

def get_group(name: str) -> ScalingGroup:
    group = ScalingGroup.objects.filter(name=name).first()
    if group is None:
        known = ", ".join(ScalingGroup.objects.values_list("name", flat=True)[:20]) or "none"
        raise UnknownGroup(f"no scaling group named {name!r} (known: {known})", fields={"group": ["unknown group"]})
    return group


def backend_for(group: ScalingGroup) -> tuple[ScalingBackend, GroupSpec]:
    try:
        backend = get_backend(group.backend)
        return backend, backend.spec(group.name, group.backend_options)
    except BackendError:
        raise
    except Exception as exc:  # ImproperlyConfigured: say which group needs it
        raise BackendError(f"group {group.name}: backend {group.backend!r} unusable: {exc}") from exc


def _lease(group: ScalingGroup):
    return get_lease(f"scaling-group-{group.name}", float(scaling_settings.LEASE_TTL_SECONDS))


def _hold_lease(group: ScalingGroup, wait: float):
    lease = _lease(group)
    deadline = time.monotonic() + wait
    while not lease.acquire():
        if time.monotonic() >= deadline:
            raise ConflictError(f"group {group.name} is being changed by another process (the autoscaler "
                                f"tick or another action); try again in a few seconds", code="group_busy")
        time.sleep(0.2)
    return lease


def _record(group: ScalingGroup, *, kind: str, before: int, after: int, actor: Any, reason: str,
            report: ApplyReport | None = None, metrics: dict | None = None, decision: dict | None = None,
            result: str | None = None, error: str = "") -> ScalingEvent:
    errors = "; ".join(report.errors) if report else ""
    if result is None:
        result = ScalingEvent.Result.OK
        if report and report.errors:
            result = ScalingEvent.Result.PARTIAL if report.changed else ScalingEvent.Result.FAILED
    user = actor if actor is not None and not isinstance(actor, str) else None
    return ScalingEvent.objects.create(
        group=group, kind=kind, from_instances=before, to_instances=after,
        reached_instances=report.serving if report else None, reason=reason, metrics=metrics or {},
        decision=decision or {}, actor=user, actor_label=actor_label(actor)[:150], result=result,
        error=error or errors)


# -- actions ----------------------------------------------------------------------------------

def create_group(*, name: str, actor: Any, reason: str = "", min_instances: int | None = None,
                 max_instances: int | None = None, backend: str = "default",
                 backend_options: dict[str, Any] | None = None,
                 policies: list[tuple[str, str, dict[str, Any]]] | None = None,
                 warmup_seconds: int | None = None, enabled: bool = True) -> ScalingGroup:
    """A group at its minimum, with `policies` (default: see policies.default_policies).
    Settings supply min/max/cooldown/warm-up defaults. A second call with the same name
    changes nothing and returns the existing group (recorded as a no-op)."""
    lo = scaling_settings.MIN_INSTANCES if min_instances is None else min_instances
    hi = scaling_settings.MAX_INSTANCES if max_instances is None else max_instances
    if lo < 0 or hi < 1 or lo > hi:
        raise OutOfBounds(f"min {lo} and max {hi} do not make a range (need 0 <= min <= max, max >= 1)")
    policies = default_policies() if policies is None else policies
    try:
        built = [build_policy(kind, metric, params) for kind, metric, params in policies]
    except PolicyConfigError as exc:
        raise ScalingError(f"bad policy: {exc}", fields={"policies": [str(exc)]}) from None
    with audited("scaling.create_group", actor=actor, reason=reason, target=name) as audit:
        existing = ScalingGroup.objects.filter(name=name).first()
        if existing is not None:
            audit.mark_noop(group=existing.pk)
            return existing
        with transaction.atomic():
            group = ScalingGroup.objects.create(
                name=name, backend=backend, backend_options=backend_options or {}, min_instances=lo,
                max_instances=hi, desired_instances=lo, enabled=enabled,
                warmup_seconds=scaling_settings.WARMUP_SECONDS if warmup_seconds is None else warmup_seconds,
                scale_down_cooldown_seconds=int(scaling_settings.COOLDOWN_MS) // 1000)
            for position, ((kind, metric, params), _) in enumerate(zip(policies, built, strict=True)):
                Policy.objects.create(group=group, kind=kind, metric=metric, params=params, position=position)
        backend_for(group)  # a bad backend alias or option fails here, loudly
        audit.set_after(group=group.pk, min=lo, max=hi, policies=len(policies))
    return group


def scale_group(*, group: str, instances: int, actor: Any, reason: str, wait: float = 10.0) -> ScaleResult:
    """Manual override: run `instances` now. Refused (400) outside min..max or without a
    reason. The autoscaler keeps it at least one cooldown and one stabilization window
    before scaling below it. Asking for the current size records a no-op."""
    target = get_group(group)
    if not reason or not reason.strip():
        raise ScalingError("a reason is required for a manual scale", fields={"reason": ["required"]})
    if isinstance(instances, bool) or not isinstance(instances, int):
        raise ScalingError(f"instances must be a whole number, got {instances!r}", fields={"instances": ["invalid"]})
    if not target.min_instances <= instances <= target.max_instances:
        raise OutOfBounds(f"group {target.name} takes {target.min_instances} to {target.max_instances} "
                          f"instances; {instances} is outside that range",
                          fields={"instances": [f"must be between {target.min_instances} and {target.max_instances}"]})
    lease = _hold_lease(target, wait)
    try:
        target.refresh_from_db()
        return _scale_to(target, instances, kind=ScalingEvent.Kind.MANUAL, actor=actor, reason=reason.strip())
    finally:
        lease.release()


def _scale_to(group: ScalingGroup, instances: int, *, kind: str, actor: Any, reason: str,
              metrics: dict | None = None, decision: Decision | None = None) -> ScaleResult:
    backend, spec = backend_for(group)
    before = group.desired_instances
    action = "scaling.scale_group" if kind == ScalingEvent.Kind.MANUAL else "scaling.autoscale"
    with audited(action, actor=actor, reason=reason, target=group.name,
                 before={"desired": before, "serving": _serving(group)}) as audit:
        now = time.time()
        if decision is not None:
            memory = decision.memory
        else:  # a manual size counts as a change and a recommendation, for cooldown and stabilization
            memory = Memory.from_json(group.decision_state)
            memory = Memory(memory.recommendations + ((now, instances),),
                            memory.changes + (((now, before, instances),) if instances != before else ()))
        group.desired_instances = instances
        group.decision_state = memory.to_json()
        if instances != before:
            group.last_scaled_at = timezone.now()
        group.save(update_fields=["desired_instances", "decision_state", "last_scaled_at", "updated_at"])
        report = apply_desired(group, backend, spec)
        if report.errors and report.serving != instances:
            # Keep the group consistent: it asks for what it has (never below min); the
            # next tick retries from there if the load still calls for more.
            settled = min(max(report.serving, group.min_instances), group.max_instances)
            ScalingGroup.objects.filter(pk=group.pk).update(desired_instances=settled)
            group.desired_instances = settled
        noop = instances == before and not report.changed
        result = ScalingEvent.Result.NOOP if noop and not report.errors else None
        event = _record(group, kind=kind, before=before, after=instances, actor=actor, reason=reason,
                        report=report, metrics=metrics, decision=decision.as_dict() if decision else None,
                        result=result)
        audit.set_after(desired=group.desired_instances, serving=report.serving, started=list(report.started),
                        stopped=list(report.stopped), errors=list(report.errors), event=event.pk)
        if noop and not report.errors:
            audit.mark_noop()
        if report.errors and not report.changed:
            # The event records the failure; the audit row ends failed with the message.
            raise BackendError(f"group {group.name}: could not scale {before} -> {instances}: "
                               f"{'; '.join(report.errors)}")
    return ScaleResult(group.name, before, instances, report.serving, event.result, event.pk,
                       "; ".join(report.errors) or f"{before} -> {instances}")


def _serving(group: ScalingGroup) -> int:
    return group.instances.filter(state__in=[State.STARTING, State.READY]).count()


def pause_autoscaling(*, group: str, actor: Any, reason: str) -> ScalingGroup:
    """Stop the tick from resizing the group; health repair continues. Twice: a no-op."""
    return _set_enabled(group, False, actor=actor, reason=reason)


def resume_autoscaling(*, group: str, actor: Any, reason: str) -> ScalingGroup:
    return _set_enabled(group, True, actor=actor, reason=reason)


def set_group_limits(*, group: str, min_instances: int, max_instances: int, actor: Any,
                     reason: str) -> ScalingGroup:
    """Change a group's min..max. Refused (400) for numbers out of order or out of range;
    the same limits again record a no-op. The next tick brings the size inside them."""
    target = get_group(group)
    fields: dict[str, list[str]] = {}
    for name, value in (("min_instances", min_instances), ("max_instances", max_instances)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1000:
            fields[name] = ["must be a whole number from 0 to 1000"]
    if not fields and min_instances > max_instances:
        fields["min_instances"] = [f"must not be above max_instances ({max_instances})"]
    if not fields and max_instances < 1:
        fields["max_instances"] = ["must be at least 1"]
    if fields:
        raise OutOfBounds(next(f"{k}: {v[0]}" for k, v in fields.items()), fields=fields)
    before = {"min_instances": target.min_instances, "max_instances": target.max_instances}
    after = {"min_instances": min_instances, "max_instances": max_instances}
    with audited("scaling.set_group_limits", actor=actor, reason=reason, target=target.name, before=before) as audit:
        if before == after:
            audit.mark_noop(**after)
            return target
        ScalingGroup.objects.filter(pk=target.pk).update(updated_at=timezone.now(), **after)
        audit.set_after(**after)
    target.refresh_from_db()
    return target


def _set_enabled(name: str, enabled: bool, *, actor: Any, reason: str) -> ScalingGroup:
    group = get_group(name)
    action, kind = ("resume_autoscaling", ScalingEvent.Kind.RESUME) if enabled else \
        ("pause_autoscaling", ScalingEvent.Kind.PAUSE)
    with audited(f"scaling.{action}", actor=actor, reason=reason, target=group.name,
                 before={"enabled": group.enabled}) as audit:
        with transaction.atomic():
            group = ScalingGroup.objects.select_for_update().get(pk=group.pk)
            if group.enabled == enabled:
                audit.mark_noop(enabled=enabled)
                return group
            group.enabled, group.paused_reason = enabled, "" if enabled else reason
            group.save(update_fields=["enabled", "paused_reason", "updated_at"])
            n = group.desired_instances
            _record(group, kind=kind, before=n, after=n, actor=actor, reason=reason)
        audit.set_after(enabled=enabled)
    return group


def replace_instance(*, group: str, instance_id: str, actor: Any, reason: str, wait: float = 10.0) -> ScaleResult:
    """Start a replacement, then retire the old instance: at once if it is dead or
    unhealthy, else once the replacement is ready (it drains meanwhile). An instance
    already stopped or draining: a no-op."""
    target = get_group(group)
    inst = target.instances.filter(instance_id=instance_id).first()
    if inst is None:
        raise ScalingError(f"group {target.name} has no instance {instance_id!r}", code="unknown_instance",
                           fields={"instance_id": ["unknown instance"]})
    lease = _hold_lease(target, wait)
    try:
        inst.refresh_from_db()
        backend, spec = backend_for(target)
        with audited("scaling.replace_instance", actor=actor, reason=reason, target=f"{target.name}/{instance_id}",
                     before={"state": inst.state}) as audit:
            n = target.desired_instances
            if inst.state in (State.STOPPED, State.DRAINING):
                audit.mark_noop(state=inst.state)
                event = _record(target, kind=ScalingEvent.Kind.REPLACE, before=n, after=n, actor=actor,
                                reason=reason, result=ScalingEvent.Result.NOOP)
                return ScaleResult(target.name, n, n, _serving(target), event.result, event.pk, "already retired")
            if "replicas" in backend.features:
                report = _replace_replica(target, backend, spec, inst)
            else:
                healthy = inst.state == State.READY and backend.is_alive(spec, _info(inst))
                inst.state = State.DRAINING if healthy else State.UNHEALTHY
                inst.save(update_fields=["state"])
                report = apply_desired(target, backend, spec)
            event = _record(target, kind=ScalingEvent.Kind.REPLACE, before=n, after=n, actor=actor,
                            reason=f"{reason} ({instance_id})", report=report)
            audit.set_after(started=list(report.started), stopped=list(report.stopped), errors=list(report.errors))
    finally:
        lease.release()
    return ScaleResult(target.name, n, n, report.serving, event.result, event.pk,
                       "; ".join(report.errors) or f"replacing {instance_id}")


def _replace_replica(group: ScalingGroup, backend: ScalingBackend, spec: GroupSpec, inst: Instance) -> ApplyReport:
    """Orchestrated groups: delete the pod; its controller starts the replacement at once."""
    try:
        backend.stop_instance(spec, _info(inst))
    except BackendError as exc:
        return ApplyReport(errors=(exc.message,), serving=_serving(group))
    inst.state, inst.stopped_at = State.STOPPED, timezone.now()
    inst.save(update_fields=["state", "stopped_at"])
    try:
        _mirror_replicas(group, backend.get_replicas(spec))
    except BackendError as exc:
        return ApplyReport(stopped=(inst.instance_id,), errors=(exc.message,), serving=_serving(group))
    return ApplyReport(stopped=(inst.instance_id,), serving=_serving(group))


def report_metrics(*, group: str, values: dict[str, float], actor: Any = "metrics") -> dict[str, Any]:
    """Store the group's load as measured outside (request rate per minute, latency, queue
    depth ...) for the next ticks. Collection, not an action: not audited."""
    target = get_group(group)
    bad = sorted(set(values) - set(ALL_METRICS))
    if bad:
        raise ScalingError(f"unknown metric(s) {', '.join(bad)}; known: {', '.join(ALL_METRICS)}",
                           fields={"values": ["unknown metric"]})
    clean: dict[str, float] = {}
    for key, value in values.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ScalingError(f"{key} must be a number, got {value!r}", fields={key: ["not a number"]}) from None
        if number != number or number < 0 or number == float("inf"):
            raise ScalingError(f"{key} must be a finite number >= 0, got {value!r}", fields={key: ["out of range"]})
        clean[key] = number
    return metric_sources.store_pushed(target.name, clean)


def autoscale_tick(*, group: str | None = None, now: float | None = None) -> list[TickResult]:
    """One autoscaler round over every group (or one): under the group's lease, probe
    instances, repair, read metrics, decide and scale. A group whose lease another
    process holds is skipped, so two ticks never scale the same group twice."""
    groups = [get_group(group)] if group else list(ScalingGroup.objects.all())
    results = []
    for target in groups:
        lease = _lease(target)
        if not lease.acquire():
            results.append(TickResult(target.name, False, "another tick holds this group's lease"))
            continue
        try:
            target.refresh_from_db()
            results.append(_tick_group(target, time.time() if now is None else now))
        except Exception as exc:
            log.exception("autoscaler tick failed for group %s", target.name)
            results.append(TickResult(target.name, True, f"failed: {exc}"))
        finally:
            lease.release()
    return results


def _tick_group(group: ScalingGroup, now: float) -> TickResult:
    backend, spec = backend_for(group)
    notes = refresh_instances(group, backend, spec)
    metrics = group_metrics(group, backend, spec)
    ready = group.instances.filter(state=State.READY).count()
    at = datetime.fromtimestamp(now, tz=UTC)
    LoadSample.objects.create(group=group, at=at, ready_instances=ready, values=metrics.as_dict())
    LoadSample.objects.filter(group=group, at__lt=at - timedelta(days=int(scaling_settings.HISTORY_DAYS))).delete()
    inputs = decision_inputs(group, metrics, now)
    decision = decide(now=now, **inputs)
    group.last_tick_at = timezone.now()
    active = group.enabled and scaling_settings.AUTO_SCALING_ENABLED
    if active and decision.changed:
        result = _scale_to(group, decision.desired, kind=ScalingEvent.Kind.AUTOSCALE, actor=AUTOSCALER,
                           reason=decision.reason, metrics=metrics.as_dict(), decision=decision)
        ScalingGroup.objects.filter(pk=group.pk).update(last_tick_at=group.last_tick_at)
        return TickResult(group.name, True, result.message, decision.as_dict(), result.event_id)
    if active:
        group.decision_state = decision.memory.to_json()
    group.save(update_fields=["decision_state", "last_tick_at", "updated_at"])
    event_id = _repair(group, backend, spec, notes, metrics.as_dict())
    detail = "paused" if not active else f"hold at {decision.current}: {decision.reason}"
    return TickResult(group.name, True, detail, decision.as_dict(), event_id)


def _repair(group: ScalingGroup, backend: ScalingBackend, spec: GroupSpec, notes: list[str],
            metrics: dict) -> int | None:
    """Keep the size the group already has: replace dead and unhealthy instances."""
    troubled = [n for n in notes if not n.endswith((" ready", " recovered"))]
    n = group.desired_instances
    if not troubled:
        report = apply_desired(group, backend, spec)
        if not report.changed:
            return None
        reason = "restored the group to its desired size"
    else:
        reason = "; ".join(troubled)
    with audited("scaling.replace_instance", actor=HEALTH, reason=reason, target=group.name,
                 before={"desired": n}) as audit:
        report = apply_desired(group, backend, spec) if troubled else report
        event = _record(group, kind=ScalingEvent.Kind.HEALTH, before=n, after=n, actor=HEALTH, reason=reason,
                        report=report, metrics=metrics)
        audit.set_after(started=list(report.started), stopped=list(report.stopped), errors=list(report.errors))
    return event.pk
