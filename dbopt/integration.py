"""dbopt in the rest of the product: its findings as perfmon recommendations (with the
action that applies them), its maintenance as the optimize action's database pass."""
from __future__ import annotations

from typing import Any


def register() -> None:
    from perfmon.ops.optimize import register_pass
    from perfmon.ops.recommendations import register_action, register_rule

    for kind in ("missing_index", "unused_index", "duplicate_index", "invalid_index", "needs_vacuum",
                 "needs_analyze", "bloated_table", "bloated_index"):
        register_rule(f"dbopt.{kind}", _rule(kind))
    register_action("dbopt.act_on_finding", _act)
    register_pass("database", "maintenance", _maintenance_pass)


def _rule(kind: str):
    def rule(now) -> list:
        from perfmon.ops.recommendations import Finding as Rec

        from .models import Finding

        return [Rec(kind=f"dbopt.{kind}", subject=f"{f.database.name}:{f.subject}", title=f.title, detail=f.detail,
                    evidence=f.evidence, impact=f.impact, action="dbopt.act_on_finding" if f.action else "",
                    action_params={"finding_id": f.pk} if f.action else {})
                for f in Finding.objects.select_related("database").filter(kind=kind, status="open")]

    return rule


def _act(params: dict[str, Any], actor: Any, reason: str) -> dict:
    from .services import act_on_finding

    result = act_on_finding(finding_id=int(params["finding_id"]), actor=actor, reason=reason)
    return {"result": result.result, "message": result.message, "audit_id": result.audit_id}


def _maintenance_pass(*, actor, reason) -> dict:
    from .services import run_maintenance

    done = run_maintenance(actor=actor, reason=reason)
    return {"actions": [r if isinstance(r, str) else r.message for r in done]}
