"""Thin Celery wrappers around perfmon's services."""
from celery import shared_task

from . import services


@shared_task(name="perfmon.tasks.collect_host_metrics_task", ignore_result=True)
def collect_host_metrics_task() -> int:
    return services.record_host_sample().pk


@shared_task(name="perfmon.tasks.collect_metrics_task", ignore_result=True)
def collect_metrics_task() -> dict:
    return services.collect_metrics(sources=("redis", "celery", "db")).errors


@shared_task(name="perfmon.tasks.rollup_minutes_task", ignore_result=True, autoretry_for=(OSError,),
             retry_backoff=True, max_retries=3)
def rollup_minutes_task() -> int:
    return services.rollup_metrics(hours=False).parts_applied


@shared_task(name="perfmon.tasks.rollup_hours_task", ignore_result=True)
def rollup_hours_task() -> int:
    return services.rollup_metrics(minutes=False).hours_recomputed


@shared_task(name="perfmon.tasks.prune_metrics_task", autoretry_for=(OSError,), retry_backoff=True, max_retries=3)
def prune_metrics_task() -> int:
    return services.prune_metrics().host_samples_deleted


@shared_task(name="perfmon.tasks.rollup_host_hours_task", ignore_result=True)
def rollup_host_hours_task() -> int:
    from .host_rollup import rollup_host_hours

    return rollup_host_hours().hours_written
