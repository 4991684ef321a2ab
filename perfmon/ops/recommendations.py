"""Recommendations: rules that look at the metrics and propose something, with evidence.

Apps contribute rules (`register_rule`) and the actions that apply them
(`register_action`), usually from their AppConfig.ready():

    register_rule("dbopt.missing_index", find_missing_indexes)      # now -> Iterable[Finding]
    register_action("dbopt.build_index", build_index_from_params)  # (params, actor, reason) -> dict
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from .models import Recommendation

log = logging.getLogger(__name__)
DISMISSED_QUIET_DAYS = 7


@dataclass(frozen=True)
class Finding:
    kind: str
    subject: str
    title: str
    detail: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    impact: float = 0.0
    action: str = ""
    action_params: dict[str, Any] = field(default_factory=dict)


Rule = Callable[[datetime], Iterable[Finding]]
Action = Callable[..., dict]
_rules: dict[str, Rule] = {}
_actions: dict[str, Action] = {}


def register_rule(kind: str, rule: Rule) -> None:
    _rules[kind] = rule


def register_action(name: str, action: Action) -> None:
    _actions[name] = action


def rules() -> dict[str, Rule]:
    return dict(_rules)


def action(name: str) -> Action | None:
    return _actions.get(name)


@dataclass
class RefreshResult:
    created: int = 0
    updated: int = 0
    gone: int = 0
    errors: dict[str, str] = field(default_factory=dict)


def refresh_recommendations(*, now: datetime | None = None) -> RefreshResult:
    """Run every rule; open a recommendation per new finding, refresh the evidence of
    open ones, and mark those no longer observed as gone. A finding dismissed in the
    last week stays quiet. Running it twice changes nothing the second time."""
    now = now or timezone.now()
    result = RefreshResult()
    for kind, rule in _rules.items():
        try:
            findings = {f.subject: f for f in rule(now)}
        except Exception as exc:  # one broken rule must not stop the others
            log.exception("recommendation rule %s failed", kind)
            result.errors[kind] = str(exc)
            continue
        with transaction.atomic():
            _apply_findings(kind, findings, now, result)
    return result


def _apply_findings(kind: str, findings: dict[str, Finding], now: datetime, result: RefreshResult) -> None:
    open_ones = {r.subject: r for r in Recommendation.objects.select_for_update().filter(
        kind=kind, status=Recommendation.Status.OPEN)}
    quiet = set(Recommendation.objects.filter(
        kind=kind, status=Recommendation.Status.DISMISSED,
        updated_at__gte=now - timedelta(days=DISMISSED_QUIET_DAYS)).values_list("subject", flat=True))
    for subject, finding in findings.items():
        fields = {"title": finding.title[:255], "detail": finding.detail, "evidence": finding.evidence,
                  "impact": finding.impact, "action": finding.action, "action_params": finding.action_params,
                  "last_seen_at": now}
        existing = open_ones.get(subject)
        if existing is not None:
            for key, value in fields.items():
                setattr(existing, key, value)
            existing.save()
            result.updated += 1
        elif subject not in quiet:
            Recommendation.objects.create(kind=kind, subject=subject[:255], **fields)
            result.created += 1
    for subject, existing in open_ones.items():
        if subject not in findings:
            existing.status = Recommendation.Status.GONE
            existing.save(update_fields=["status", "updated_at"])
            result.gone += 1
