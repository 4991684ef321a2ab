"""Optimization passes, run by the optimize action as one Celery job.

Apps register the passes they offer for a kind ("cache", "database", "cdn");
"all" runs every pass. A pass takes `actor` and `reason`, does its work through
its app's services (so each change it makes is audited there) and returns a
summary dict.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from .models import OptimizationRun

log = logging.getLogger(__name__)
Pass = Callable[..., dict]
_passes: dict[str, dict[str, Pass]] = {"cache": {}, "database": {}, "cdn": {}}


def register_pass(kind: str, name: str, run: Pass) -> None:
    _passes.setdefault(kind, {})[name] = run


def passes_for(kind: str) -> dict[str, Pass]:
    if kind == "all":
        return {f"{k}.{n}": p for k, group in _passes.items() for n, p in group.items()}
    return {f"{kind}.{n}": p for n, p in _passes.get(kind, {}).items()}


def run_optimization(*, run_id: int, actor: Any = "perfmon.optimize") -> OptimizationRun:
    """Run the passes of one OptimizationRun, recording progress after each. Re-running a
    finished run does nothing; a run redelivered after a lost worker skips passes already done.
    A failing pass is recorded and the others still run; the run then ends as failed."""
    run = OptimizationRun.objects.get(pk=run_id)
    if run.status in (OptimizationRun.Status.DONE, OptimizationRun.Status.FAILED):
        return run
    run.status, run.started_at = OptimizationRun.Status.RUNNING, run.started_at or timezone.now()
    todo = passes_for(run.kind)
    run.progress = {name: run.progress.get(name, "pending") for name in todo}
    run.save(update_fields=["status", "started_at", "progress"])
    errors = []
    for name, step in todo.items():
        if run.progress.get(name) == "done":
            continue
        run.progress[name] = "running"
        run.save(update_fields=["progress"])
        try:
            run.result[name] = step(actor=actor, reason=run.reason or f"optimize {run.kind}")
            run.progress[name] = "done"
        except Exception as exc:
            log.exception("optimization pass %s failed", name)
            run.result[name] = {"error": str(exc)}
            run.progress[name] = "failed"
            errors.append(f"{name}: {exc}")
        run.save(update_fields=["progress", "result"])
    run.status = OptimizationRun.Status.FAILED if errors else OptimizationRun.Status.DONE
    run.error = "\n".join(errors)
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])
    from perfmon import events

    events.publish("perfmon.optimization_done", {"run_id": run.pk, "kind": run.kind, "status": run.status,
                                                 "result": run.result})
    return run
