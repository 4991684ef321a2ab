"""Celery task run time and failures by task name, through Celery's signals, counted
by the same per-process recorder as requests (kind "task")."""
from __future__ import annotations

from time import perf_counter

from celery.signals import task_postrun, task_prerun

from .recorder import record_task

_started: dict[str, float] = {}


@task_prerun.connect(weak=False)
def _task_started(task_id=None, **_kwargs) -> None:
    if task_id:
        _started[task_id] = perf_counter()
        if len(_started) > 10000:  # tasks that never finished (killed): forget them
            _started.clear()


@task_postrun.connect(weak=False)
def _task_finished(task_id=None, task=None, state=None, **_kwargs) -> None:
    started = _started.pop(task_id, None) if task_id else None
    if started is None:
        return
    record_task(getattr(task, "name", "") or "", (perf_counter() - started) * 1000.0, state == "FAILURE")
