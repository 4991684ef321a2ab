"""The dashboard's one-click actions: each parses its input, says what it will do on
the confirmation page, and calls the one service function for the action."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class ConsoleInputError(ValueError):
    pass


def _int(source, name: str) -> int:
    try:
        return int(source.get(name, ""))
    except (TypeError, ValueError):
        raise ConsoleInputError(f"{name} must be a whole number") from None


@dataclass(frozen=True)
class ConsoleAction:
    title: str
    parse: Callable[[Any], dict]
    describe: Callable[[dict], str]
    run: Callable[..., str]


def _scale_parse(source) -> dict:
    group = source.get("group", "").strip()
    if not group:
        raise ConsoleInputError("choose a scaling group")
    return {"group": group, "instances": _int(source, "instances")}


def _scale_run(params, *, actor, reason) -> str:
    from scaling.services import scale_group

    result = scale_group(group=params["group"], instances=params["instances"], actor=actor, reason=reason)
    return f"scaled {result.group}: {result.message} (event {result.event_id}, {result.result})"


def _optimize_parse(source) -> dict:
    kind = source.get("type", "")
    if kind not in ("cache", "database", "cdn", "all"):
        raise ConsoleInputError("type must be cache, database, cdn or all")
    return {"type": kind}


def _optimize_run(params, *, actor, reason) -> str:
    from perfmon.ops.services import optimize

    run = optimize(kind=params["type"], actor=actor, reason=reason)
    return f"optimization run {run.pk} ({params['type']}) {run.status}"


def _recommendation_describe(params) -> str:
    from perfmon.ops.models import Recommendation

    rec = Recommendation.objects.filter(pk=params["id"]).first()
    if rec is None:
        return f"recommendation {params['id']} (not found)"
    return f"Apply “{rec.title}” by running {rec.action or 'no action'} with {rec.action_params}."


def _apply_run(params, *, actor, reason) -> str:
    from perfmon.ops.services import apply_recommendation

    rec = apply_recommendation(recommendation_id=params["id"], actor=actor, reason=reason)
    return f"applied: {rec.title}"


def _ack_run(params, *, actor, reason) -> str:
    from perfmon.ops.services import acknowledge_alert

    alert = acknowledge_alert(alert_id=params["id"], actor=actor, reason=reason)
    return f"acknowledged alert {alert.pk} ({alert.rule.name})"


ACTIONS: dict[str, ConsoleAction] = {
    "scale": ConsoleAction("Scale a group", _scale_parse,
                           lambda p: f"Scale group {p['group']} to {p['instances']} instances now (a manual override).",
                           _scale_run),
    "optimize": ConsoleAction("Run optimization", _optimize_parse,
                              lambda p: f"Run the {p['type']} optimization passes as a background job.",
                              _optimize_run),
    "apply": ConsoleAction("Apply a recommendation", lambda s: {"id": _int(s, "id")}, _recommendation_describe,
                           _apply_run),
    "acknowledge": ConsoleAction("Acknowledge an alert", lambda s: {"id": _int(s, "id")},
                                 lambda p: f"Acknowledge alert {p['id']}: no more repeats until it resolves.",
                                 _ack_run),
}
