"""Thin Celery wrappers around cdn's services."""
from celery import shared_task

from . import services


@shared_task(name="cdn.tasks.optimize_asset_task", autoretry_for=(ConnectionError,), retry_backoff=True,
             max_retries=3)
def optimize_asset_task(asset_id: int, actor: str = "task", reason: str = "optimize after upload") -> int:
    return services.optimize_asset(asset_id=asset_id, actor=actor, reason=reason).variants


@shared_task(name="cdn.tasks.invalidate_cdn_task", autoretry_for=(ConnectionError,), retry_backoff=True,
             max_retries=3)
def invalidate_cdn_task(paths: list[str], idempotency_key: str, actor: str = "task", reason: str = "",
                        backend: str = "default") -> str:
    return services.invalidate_cdn(paths=paths, idempotency_key=idempotency_key, actor=actor, reason=reason,
                                   backend=backend).status


@shared_task(name="cdn.tasks.ingest_cdn_logs_task", ignore_result=True)
def ingest_cdn_logs_task(folder: str | None = None) -> int:
    from .conf import cdn_settings

    folder = folder or cdn_settings.LOG_FOLDER
    if not folder:
        return 0  # no log folder configured: nothing to ingest
    return services.ingest_cdn_logs(folder=folder, actor="beat", reason="scheduled log ingestion").ingested


@shared_task(name="cdn.tasks.follow_invalidations_task", ignore_result=True)
def follow_invalidations_task() -> dict:
    # No retry: the next beat run, a minute away, is the retry.
    return services.follow_invalidations(actor="beat")
