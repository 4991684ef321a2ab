"""Alert evaluation in the manner of Prometheus: pending -> firing after `for`, resolved
when the condition clears; one alert per rule and label set."""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from perfmon import events, registry
from perfmon.locks import get_lease

from . import live_settings
from .models import Alert, AlertRule

log = logging.getLogger(__name__)

_COMPARE = {">": float.__gt__, ">=": float.__ge__, "<": float.__lt__, "<=": float.__le__}


@dataclass
class EvaluationResult:
    rules: int = 0
    pending: list[int] = field(default_factory=list)
    fired: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    skipped: bool = False


def fingerprint(rule: AlertRule, labels: dict[str, str]) -> str:
    text = json.dumps([rule.pk, sorted(labels.items())], default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def rule_threshold(rule: AlertRule) -> float:
    if rule.threshold_setting:
        return float(live_settings.get(rule.threshold_setting))
    return float(rule.threshold)


def evaluate_alert_rules(*, now: datetime | None = None) -> EvaluationResult:
    """Evaluate every enabled rule once. Only one evaluator runs at a time (a lease);
    a second concurrent call returns `skipped`. Safe to call at any interval."""
    now = now or timezone.now()
    lease = get_lease("perfmon-alert-evaluation", ttl_seconds=120)
    if not lease.acquire():
        return EvaluationResult(skipped=True)
    try:
        result = EvaluationResult()
        for rule in AlertRule.objects.filter(enabled=True):
            result.rules += 1
            try:
                _evaluate(rule, now, result)
            except (registry.UnknownMetric, ValueError, TypeError) as exc:
                result.errors[rule.name] = str(exc)
                AlertRule.objects.filter(pk=rule.pk).update(last_error=str(exc)[:2000], last_evaluated_at=now)
        if result.pending or result.fired or result.resolved:
            from .dashboard import invalidate_cache

            invalidate_cache()
        return result
    finally:
        lease.release()


def _evaluate(rule: AlertRule, now: datetime, result: EvaluationResult) -> None:
    threshold = rule_threshold(rule)
    query = registry.Query(end=now, window=timedelta(seconds=rule.window_seconds), aggregation=rule.aggregation,
                           labels=dict(rule.label_filters))
    compare = _COMPARE[rule.comparison]
    breaching: dict[str, tuple[dict, float]] = {}
    for series in registry.read(rule.metric, query):
        if compare(float(series.value), threshold):
            labels = {**{k: str(v) for k, v in series.labels.items()}, **rule.labels,
                      "alertname": rule.name, "severity": rule.severity}
            breaching[fingerprint(rule, labels)] = (labels, float(series.value))
    with transaction.atomic():
        active = {a.fingerprint: a for a in rule.alerts.select_for_update().filter(
            state__in=[Alert.State.PENDING, Alert.State.FIRING])}
        for fp, (labels, value) in breaching.items():
            alert = active.get(fp) or _open(rule, fp, labels, value, threshold, now, result)
            if alert is None:
                continue
            alert.value, alert.threshold, alert.last_evaluated_at = value, threshold, now
            if alert.state == Alert.State.PENDING and now - alert.started_at >= timedelta(seconds=rule.for_seconds):
                alert.state, alert.fired_at = Alert.State.FIRING, now
                result.fired.append(alert.pk)
                events.publish("perfmon.alert_firing", _event(alert))
            alert.save()
        for fp, alert in active.items():
            if fp in breaching:
                continue
            if alert.state == Alert.State.PENDING:
                alert.delete()  # never fired: like Prometheus, a cleared pending alert leaves nothing
                continue
            alert.state, alert.resolved_at, alert.last_evaluated_at = Alert.State.RESOLVED, now, now
            alert.save()
            result.resolved.append(alert.pk)
            events.publish("perfmon.alert_resolved", _event(alert))
        AlertRule.objects.filter(pk=rule.pk).update(last_error="", last_evaluated_at=now)


def _open(rule, fp, labels, value, threshold, now, result) -> Alert | None:
    try:
        with transaction.atomic():
            alert = Alert.objects.create(rule=rule, fingerprint=fp, labels=labels, severity=rule.severity,
                                         value=value, threshold=threshold, started_at=now, last_evaluated_at=now)
    except IntegrityError:  # another evaluator opened it a moment ago
        return None
    result.pending.append(alert.pk)
    return alert


def _event(alert: Alert) -> dict:
    return {"alert_id": alert.pk, "rule": alert.rule.name, "labels": alert.labels, "state": alert.state,
            "value": alert.value, "threshold": alert.threshold, "severity": alert.severity}
