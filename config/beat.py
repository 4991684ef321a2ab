"""Beat: the schedule sync and a scheduler that only one process runs at a time."""
from __future__ import annotations

import logging

from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from config.beat_schedule import SCHEDULE

log = logging.getLogger(__name__)

MANAGED_MARK = "[managed by config/beat_schedule.py] "
LEASE_NAME = "celery-beat"
STANDBY_INTERVAL = 5.0


def _schedule_fields(entry: dict) -> dict:
    if "every" in entry:
        fields = {"every": int(entry["every"]), "period": IntervalSchedule.SECONDS}
        # filter().first(): tolerate duplicates an older, unguarded sync may have left.
        interval = IntervalSchedule.objects.filter(**fields).order_by("pk").first() or \
            IntervalSchedule.objects.create(**fields)
        return {"interval": interval, "crontab": None}
    fields = {"minute": "*", "hour": "*", "day_of_week": "*", "day_of_month": "*",
              "month_of_year": "*", **entry["crontab"]}
    crontab = CrontabSchedule.objects.filter(**fields).order_by("pk").first() or \
        CrontabSchedule.objects.create(**fields)
    return {"interval": None, "crontab": crontab}


@transaction.atomic
def sync_beat_schedule(schedule: dict[str, dict] | None = None) -> dict[str, list[str]]:
    """Bring django-celery-beat's PeriodicTask rows in line with SCHEDULE, by name.

    Code owns the task, the timing and the expiry; the operator owns `enabled`
    (a task paused in the admin stays paused). Managed entries that left the
    schedule are disabled, never deleted. Safe to run any number of times.
    """
    schedule = SCHEDULE if schedule is None else schedule
    report: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": [], "disabled": []}
    for name, entry in schedule.items():
        defaults = {"task": entry["task"], "expire_seconds": entry.get("expires"),
                    "description": MANAGED_MARK + entry.get("description", ""),
                    **_schedule_fields(entry)}
        task = PeriodicTask.objects.filter(name=name).first()
        if task is None:
            PeriodicTask.objects.create(name=name, **defaults)
            report["created"].append(name)
            continue
        changed = [k for k, v in defaults.items() if getattr(task, k) != v]
        if changed:
            for key in changed:
                setattr(task, key, defaults[key])
            task.save()
            report["updated"].append(name)
        else:
            report["unchanged"].append(name)
    stale = PeriodicTask.objects.filter(description__startswith=MANAGED_MARK, enabled=True).exclude(
        name__in=list(schedule))
    for task in stale:
        task.enabled = False
        task.save(update_fields=["enabled"])
        report["disabled"].append(task.name)
    return report


class SingletonDatabaseScheduler(DatabaseScheduler):
    """django-celery-beat's scheduler behind a lease: a second beat waits in standby
    and takes over within the lease TTL when the first one dies."""

    def __init__(self, *args, **kwargs):
        from django.conf import settings

        from perfmon.locks import get_lease

        self.lease_ttl = float(getattr(settings, "BEAT_LEASE_TTL", 30.0))
        self._lease = get_lease(LEASE_NAME, self.lease_ttl)
        self._standby_logged = False
        super().__init__(*args, **kwargs)

    def setup_schedule(self):
        # Only the lease holder writes the schedule, so two beats starting together never
        # race to create the same rows; a standby syncs when it takes over.
        if self._lease.acquire():
            self._sync()
        super().setup_schedule()

    def _sync(self) -> None:
        report = sync_beat_schedule()
        log.info("beat schedule synced: %s", {k: len(v) for k, v in report.items()})

    def _hold_lease(self) -> bool:
        if self._lease.held and self._lease.renew():
            return True
        if self._lease.acquire():
            log.info("beat: lease %r acquired by %s; this process schedules", LEASE_NAME, self._lease.holder_id)
            self._standby_logged = False
            self._sync()
            # Another beat may have run tasks while we waited: re-read the table.
            self._initial_read = True
            self._heap = None
            return True
        if not self._standby_logged:
            log.info("beat: another process holds %r; standing by", LEASE_NAME)
            self._standby_logged = True
        return False

    def tick(self, *args, **kwargs):
        if not self._hold_lease():
            return min(STANDBY_INTERVAL, self.lease_ttl / 2)
        return super().tick(*args, **kwargs)

    def close(self):
        try:
            super().close()
        finally:
            if self._lease.held:
                self._lease.release()
