"""The actions of perfmon's judging half: one public function per action, each audited."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from perfmon.audit import audited

from . import live_settings
from .errors import OpsError
from .models import Alert, AlertRule, NotificationChannel, OptimizationRun, Recommendation, Silence
from .notify import validate_target

OPTIMIZATION_KINDS = ("cache", "database", "cdn", "all")


@dataclass(frozen=True)
class SettingsChange:
    changed: dict[str, dict[str, Any]]
    values: dict[str, Any]


def update_settings(*, changes: dict[str, Any], actor: Any, reason: str = "") -> SettingsChange:
    """Change live settings. `None` as a value removes the override (back to the
    environment's value). Every field is checked before anything is written; a bad
    value raises OpsError with field-level messages and changes nothing."""
    from .models import LiveSetting

    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for name, value in changes.items():
        spec = live_settings.SPECS.get(name)
        if spec is None:
            errors[name] = ["is not a setting that can be changed here"]
            continue
        try:
            cleaned[name] = spec.env_default() if value is None else spec.validate(value)
        except ValueError as exc:
            errors[name] = [str(exc)]
    if len(reason) > 1000 or any(ord(ch) < 32 for ch in reason):
        # The reason goes into the audit row; PostgreSQL refuses NUL in text.
        errors["X-Change-Reason"] = ["must be one line of at most 1000 characters, without control characters"]
    current = live_settings.effective()
    if not errors:
        errors = live_settings.cross_field_errors({**current, **cleaned})
    if errors:
        first = next(iter(errors))
        raise OpsError(f"{first}: {errors[first][0]}", code="invalid", fields=errors)
    changed = {n: {"before": current[n], "after": v} for n, v in cleaned.items() if current[n] != v
               or (changes[n] is None)}
    with audited("perfmon.update_settings", actor=actor, reason=reason, target=",".join(sorted(changed)),
                 before={n: c["before"] for n, c in changed.items()}) as audit:
        if not changed:
            audit.mark_noop()
        with transaction.atomic():
            user = None if isinstance(actor, str) else actor
            for name in changed:
                if changes[name] is None:
                    LiveSetting.objects.filter(name=name).delete()
                else:
                    LiveSetting.objects.update_or_create(name=name, defaults={"value": cleaned[name],
                                                                              "updated_by": user})
        audit.set_after(**{n: c["after"] for n, c in changed.items()})
    live_settings.bump_version()
    return SettingsChange(changed=changed, values=live_settings.effective())


def acknowledge_alert(*, alert_id: int, actor: Any, reason: str = "") -> Alert:
    """Stop repeat notifications of a firing alert (it still resolves and notifies then)."""
    alert = _get(Alert, alert_id, "alert")
    with audited("perfmon.acknowledge_alert", actor=actor, reason=reason, target=f"alert:{alert.pk}",
                 before={"acknowledged": alert.acknowledged_at is not None, "state": alert.state}) as audit:
        if alert.state != Alert.State.FIRING:
            raise OpsError(f"alert {alert.pk} is {alert.state}; only firing alerts are acknowledged",
                           code="not_firing", status_code=409)
        if alert.acknowledged_at is not None:
            audit.mark_noop(acknowledged=True)
            return alert
        alert.acknowledged_at = timezone.now()
        alert.acknowledged_by = None if isinstance(actor, str) else actor
        alert.save(update_fields=["acknowledged_at", "acknowledged_by"])
        audit.set_after(acknowledged=True)
    return alert


def create_silence(*, matchers: dict[str, str], ends_at: datetime, comment: str, actor: Any,
                   starts_at: datetime | None = None) -> Silence:
    starts_at = starts_at or timezone.now()
    fields: dict[str, list[str]] = {}
    if not isinstance(matchers, dict) or not matchers or not all(
            isinstance(k, str) and isinstance(v, (str, int, float)) for k, v in matchers.items()):
        fields["matchers"] = ["must be a non-empty object of label names to values"]
    if ends_at <= starts_at:
        fields["ends_at"] = ["must be after the start"]
    if not comment.strip():
        fields["comment"] = ["say why (it shows next to the silenced alerts)"]
    if fields:
        raise OpsError(next(f"{k}: {v[0]}" for k, v in fields.items()), code="invalid", fields=fields)
    with audited("perfmon.create_silence", actor=actor, reason=comment, target=str(matchers)[:255]) as audit:
        silence = Silence.objects.create(matchers={k: str(v) for k, v in matchers.items()}, starts_at=starts_at,
                                         ends_at=ends_at, comment=comment,
                                         created_by=None if isinstance(actor, str) else actor)
        audit.set_after(silence_id=silence.pk, ends_at=ends_at.isoformat())
    return silence


def expire_silence(*, silence_id: int, actor: Any, reason: str = "") -> Silence:
    silence = _get(Silence, silence_id, "silence")
    now = timezone.now()
    with audited("perfmon.expire_silence", actor=actor, reason=reason, target=f"silence:{silence.pk}",
                 before={"ends_at": silence.ends_at.isoformat()}) as audit:
        if silence.ends_at <= now:
            audit.mark_noop()
            return silence
        silence.ends_at = now
        silence.save(update_fields=["ends_at"])
        audit.set_after(ends_at=now.isoformat())
    return silence


def save_notification_channel(*, name: str, kind: str, target: str, actor: Any, min_severity: str = "warning",
                              send_resolved: bool = True, enabled: bool = True) -> NotificationChannel:
    """Create or update a channel by name; the target is validated (no internal webhook addresses)."""
    fields: dict[str, list[str]] = {}
    if kind not in NotificationChannel.Kind.values:
        fields["kind"] = [f"must be one of {', '.join(NotificationChannel.Kind.values)}"]
    else:
        try:
            target = validate_target(kind, target)
        except ValueError as exc:
            fields["target"] = [str(exc)]
    if min_severity not in AlertRule.Severity.values:
        fields["min_severity"] = [f"must be one of {', '.join(AlertRule.Severity.values)}"]
    if fields:
        raise OpsError(next(f"{k}: {v[0]}" for k, v in fields.items()), code="invalid", fields=fields)
    with audited("perfmon.save_notification_channel", actor=actor, target=name) as audit:
        channel, created = NotificationChannel.objects.update_or_create(name=name, defaults={
            "kind": kind, "target": target, "min_severity": min_severity, "send_resolved": send_resolved,
            "enabled": enabled})
        audit.set_after(created=created, kind=kind)
    return channel


def apply_recommendation(*, recommendation_id: int, actor: Any, reason: str = "") -> Recommendation:
    """Run the recommendation's action through its app's service. Applying an applied
    one again does nothing; one without an action is refused."""
    from .recommendations import action

    rec = _get(Recommendation, recommendation_id, "recommendation")
    with audited("perfmon.apply_recommendation", actor=actor, reason=reason, target=f"{rec.kind}:{rec.subject}",
                 before={"status": rec.status}, idempotency_key=None) as audit:
        if rec.status == Recommendation.Status.APPLIED:
            audit.mark_noop(status=rec.status)
            return rec
        if rec.status != Recommendation.Status.OPEN:
            raise OpsError(f"recommendation {rec.pk} is {rec.status}", code="not_open", status_code=409)
        run = action(rec.action) if rec.action else None
        if run is None:
            raise OpsError(f"recommendation {rec.pk} has no action that applies it; follow its advice by hand",
                           code="no_action", status_code=409)
        outcome = run(params=rec.action_params, actor=actor, reason=reason or rec.title)
        rec.status, rec.result = Recommendation.Status.APPLIED, outcome or {}
        rec.resolved_by = None if isinstance(actor, str) else actor
        rec.save(update_fields=["status", "result", "resolved_by", "updated_at"])
        audit.set_after(status=rec.status, result=rec.result)
    return rec


def dismiss_recommendation(*, recommendation_id: int, actor: Any, reason: str = "") -> Recommendation:
    rec = _get(Recommendation, recommendation_id, "recommendation")
    with audited("perfmon.dismiss_recommendation", actor=actor, reason=reason, target=f"{rec.kind}:{rec.subject}",
                 before={"status": rec.status}) as audit:
        if rec.status == Recommendation.Status.DISMISSED:
            audit.mark_noop()
            return rec
        if rec.status != Recommendation.Status.OPEN:
            raise OpsError(f"recommendation {rec.pk} is {rec.status}", code="not_open", status_code=409)
        rec.status = Recommendation.Status.DISMISSED
        rec.resolved_by = None if isinstance(actor, str) else actor
        rec.save(update_fields=["status", "resolved_by", "updated_at"])
        audit.set_after(status=rec.status)
    return rec


def optimize(*, kind: str, actor: Any, reason: str = "", run_now: bool = False) -> OptimizationRun:
    """Start the optimization passes for `kind` as a Celery job (or here, with `run_now`)
    and return its run. While a run of the same kind is queued or running, that run is
    returned instead of starting another."""
    if kind not in OPTIMIZATION_KINDS:
        raise OpsError(f"type must be one of {', '.join(OPTIMIZATION_KINDS)}", code="invalid",
                       fields={"type": [f"must be one of {', '.join(OPTIMIZATION_KINDS)}"]})
    from .tasks import run_optimization_task

    with audited("perfmon.optimize", actor=actor, reason=reason, target=kind) as audit:
        active = OptimizationRun.objects.filter(kind=kind, status__in=["queued", "running"]).first()
        if active is not None:
            audit.mark_noop(run_id=active.pk, already=active.status)
            return active
        try:
            with transaction.atomic():
                run = OptimizationRun.objects.create(kind=kind, reason=reason[:255],
                                                     requested_by=None if isinstance(actor, str) else actor)
        except IntegrityError:
            run = OptimizationRun.objects.get(kind=kind, status__in=["queued", "running"])
            audit.mark_noop(run_id=run.pk, already=run.status)
            return run
        if run_now:
            from .optimize import run_optimization

            run = run_optimization(run_id=run.pk, actor=actor)
            audit.set_after(run_id=run.pk, status=run.status)
            return run
        result = run_optimization_task.apply_async(args=[run.pk])
        OptimizationRun.objects.filter(pk=run.pk).update(task_id=result.id)
        run.task_id = result.id
        audit.set_after(run_id=run.pk, task_id=result.id)
    return run


def _get(model, pk: Any, what: str):
    try:
        return model.objects.get(pk=int(pk))
    except (model.DoesNotExist, TypeError, ValueError):
        raise OpsError(f"no {what} with id {pk!r}", code="not_found", status_code=404) from None
