"""Thin Celery wrappers around dbopt's services."""
from celery import shared_task

from . import services
from .conf import dbopt_settings
from .errors import DboptError


@shared_task(name="dbopt.tasks.collect_databases_task", ignore_result=True)
def collect_databases_task() -> list[dict]:
    # No retry: the next beat run is the retry; a database that is down is marked so.
    return [r.__dict__ for r in services.collect_all()]


@shared_task(name="dbopt.tasks.refresh_findings_task", ignore_result=True)
def refresh_findings_task() -> list[dict]:
    from .models import MonitoredDatabase

    services.ensure_databases()
    out = []
    for db in MonitoredDatabase.objects.filter(enabled=True):
        if services.collect_database(database=db).status != "up":
            continue
        try:
            out.append(services.refresh_findings(database=db).__dict__)
        except DboptError as exc:  # this database went away mid-way; the others still run
            out.append({"database": db.name, "error": exc.message})
    return out


@shared_task(name="dbopt.tasks.run_maintenance_task", ignore_result=True)
def run_maintenance_task() -> list[str]:
    if not dbopt_settings.AUTO_MAINTENANCE:
        return ["automatic maintenance is off (DBOPT AUTO_MAINTENANCE)"]
    return [r if isinstance(r, str) else r.message for r in services.run_maintenance(actor="dbopt.auto_maintenance")]


@shared_task(name="dbopt.tasks.act_on_finding_task", autoretry_for=(ConnectionError,), retry_backoff=True,
             max_retries=3)
def act_on_finding_task(finding_id: int, reason: str, actor: str = "task") -> dict:
    return services.act_on_finding(finding_id=finding_id, actor=actor, reason=reason).__dict__


@shared_task(name="dbopt.tasks.prune_snapshots_task", ignore_result=True)
def prune_snapshots_task() -> int:
    return services.prune_snapshots()
