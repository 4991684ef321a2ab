"""Thin Celery wrappers around scaling's services."""
from celery import shared_task

from . import services


@shared_task(name="scaling.tasks.autoscale_tick_task", ignore_result=True)
def autoscale_tick_task(group: str | None = None) -> list[dict]:
    # No retry: the next beat tick, 15 s away, is the retry.
    return [r.__dict__ for r in services.autoscale_tick(group=group)]


@shared_task(name="scaling.tasks.scale_group_task", autoretry_for=(ConnectionError,), retry_backoff=True,
             max_retries=3)
def scale_group_task(group: str, instances: int, reason: str, actor: str = "task") -> int | None:
    return services.scale_group(group=group, instances=instances, actor=actor, reason=reason).event_id
