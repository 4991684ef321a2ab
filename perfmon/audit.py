"""Audit records for actions: one row per call, opened before the work and closed after."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from . import events
from .errors import ActionError
from .models import AuditRecord


def actor_label(actor: Any) -> str:
    """A user's name, or the name of the system component acting (a plain string)."""
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor
    return getattr(actor, "get_username", lambda: str(actor))()


@dataclass
class AuditContext:
    record: AuditRecord
    after: dict[str, Any] = field(default_factory=dict)
    noop: bool = False

    def set_after(self, **values: Any) -> None:
        self.after.update(values)

    def mark_noop(self, **values: Any) -> None:
        self.noop = True
        self.after.update(values)


@contextlib.contextmanager
def audited(action: str, *, actor: Any, reason: str = "", target: str = "",
            before: dict[str, Any] | None = None,
            idempotency_key: str | None = None) -> Iterator[AuditContext]:
    """Record an action. The record is committed before the work starts, so a crash
    leaves a visible 'started' row; it ends as ok, noop or failed with the error.

    With an idempotency key, a second call whose key was already used raises
    `ActionError(code="duplicate")` carrying the earlier record as `.record`.
    """
    user = actor if actor is not None and not isinstance(actor, str) else None
    try:
        with transaction.atomic():
            record = AuditRecord.objects.create(
                action=action, target=target[:255], actor=user, actor_label=actor_label(actor)[:150],
                reason=reason, before=before or {}, idempotency_key=idempotency_key)
    except IntegrityError:
        existing = AuditRecord.objects.filter(idempotency_key=idempotency_key).first()
        error = ActionError(f"{action} with key {idempotency_key!r} was already requested", code="duplicate",
                            status_code=409)
        error.record = existing
        raise error from None
    context = AuditContext(record)
    try:
        yield context
    except Exception as exc:
        _finish(record, AuditRecord.Result.FAILED, context.after, str(exc) or type(exc).__name__)
        raise
    _finish(record, AuditRecord.Result.NOOP if context.noop else AuditRecord.Result.OK, context.after, "")


def _finish(record: AuditRecord, result: str, after: dict[str, Any], error: str) -> None:
    record.result = result
    record.after = after
    record.error = error
    record.finished_at = timezone.now()
    record.save(update_fields=["result", "after", "error", "finished_at"])
    transaction.on_commit(_dashboard_changed)
    events.publish(record.action, {"audit_id": record.pk, "result": result, "target": record.target,
                                   "actor": record.actor_label, "reason": record.reason, "after": after,
                                   "error": error})


def _dashboard_changed() -> None:
    from perfmon.ops.dashboard import invalidate_cache

    invalidate_cache()
