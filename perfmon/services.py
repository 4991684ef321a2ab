"""perfmon's actions: one public function per action."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from .audit import audited
from .collectors import GaugeReading, read_celery, read_db_connections, read_host, read_redis
from .conf import perfmon_settings
from .models import (HostSample, QueryHour, QueryMinute, RollupClaim, Sample, TrafficDay, TrafficHour,
                     TrafficMinute)

log = logging.getLogger(__name__)
SOURCES = ("host", "redis", "celery", "db")


@dataclass(frozen=True)
class PruneResult:
    host_samples_deleted: int
    minute_rows_deleted: int = 0
    hour_rows_deleted: int = 0
    samples_deleted: int = 0

    @property
    def total(self) -> int:
        return self.host_samples_deleted + self.minute_rows_deleted + self.hour_rows_deleted + self.samples_deleted


@dataclass(frozen=True)
class CollectResult:
    host_sample: HostSample | None
    samples: list[GaugeReading] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def record_host_sample(*, cpu_interval: float = 0.5) -> HostSample:
    """Read this host with psutil and store the sample. Collection, not an action: not audited."""
    reading = read_host(cpu_interval=cpu_interval)
    return HostSample.objects.create(**reading.as_dict())


def record_samples(readings: list[GaugeReading]) -> list[Sample]:
    from .selectors import labels_text

    now = timezone.now()
    return Sample.objects.bulk_create([Sample(name=r.name, labels=labels_text(dict(r.labels)), at=now, value=r.value)
                                       for r in readings])


def collect_metrics(*, sources: tuple[str, ...] = SOURCES, cpu_interval: float = 0.5) -> CollectResult:
    """One round of the collectors: host (psutil), Redis INFO, Celery queues and workers,
    database connections. A source that is down or not configured is reported in
    `errors` (and logged); the others are still stored. Collection: not audited."""
    unknown = set(sources) - set(SOURCES)
    if unknown:
        raise ValueError(f"unknown metric sources: {', '.join(sorted(unknown))}; use {', '.join(SOURCES)}")
    host, readings, errors = None, [], {}
    readers = {
        "redis": lambda: read_redis(settings.REDIS_URL) if getattr(settings, "REDIS_URL", "") else [],
        "celery": read_celery,
        "db": read_db_connections,
    }
    if "host" in sources:
        host = record_host_sample(cpu_interval=cpu_interval)
    for name in sources:
        if name == "host":
            continue
        try:
            readings.extend(readers[name]())
        except Exception as exc:
            errors[name] = f"{type(exc).__name__}: {exc}"
            log.warning("perfmon: collector %s failed: %s", name, errors[name])
    record_samples(readings)
    return CollectResult(host_sample=host, samples=readings, errors=errors)


def rollup_metrics(*, minutes: bool = True, hours: bool = True):
    """Drain closed minutes from the buffer into minute rows, and/or recompute recent hours
    from them. Collection, not an action: not audited. Safe to run twice and concurrently."""
    from .rollup import RollupResult, rollup_hours, rollup_minutes

    parts = rollup_minutes().parts_applied if minutes else 0
    recomputed = rollup_hours().hours_recomputed if hours else 0
    return RollupResult(parts_applied=parts, hours_recomputed=recomputed)


def prune_metrics(*, actor: object = "perfmon.retention", reason: str = "retention",
                  host_sample_days: int | None = None, minute_days: int | None = None,
                  hour_days: int | None = None) -> PruneResult:
    """Delete samples and rollup rows older than their retention. Running it twice deletes nothing more."""
    now = timezone.now()
    host_days = host_sample_days if host_sample_days is not None else perfmon_settings.HOST_SAMPLE_RETENTION_DAYS
    minute_days = minute_days if minute_days is not None else perfmon_settings.MINUTE_RETENTION_DAYS
    hour_days = hour_days if hour_days is not None else perfmon_settings.HOUR_RETENTION_DAYS
    cutoff = now - timedelta(days=host_days)
    minute_cutoff = now - timedelta(days=minute_days)
    hour_cutoff = now - timedelta(days=hour_days)
    sample_cutoff = now - timedelta(days=perfmon_settings.SAMPLE_RETENTION_DAYS)
    with audited("perfmon.prune_metrics", actor=actor, reason=reason, target="HostSample",
                 before={"older_than": cutoff.isoformat(), "minutes_older_than": minute_cutoff.isoformat(),
                         "hours_older_than": hour_cutoff.isoformat()}) as audit:
        deleted, _ = HostSample.objects.filter(at__lt=cutoff).delete()
        minutes = TrafficMinute.objects.filter(bucket__lt=minute_cutoff).delete()[0] + \
            QueryMinute.objects.filter(bucket__lt=minute_cutoff).delete()[0]
        hours = TrafficHour.objects.filter(bucket__lt=hour_cutoff).delete()[0] + \
            QueryHour.objects.filter(bucket__lt=hour_cutoff).delete()[0] + \
            TrafficDay.objects.filter(bucket__lt=now - timedelta(days=perfmon_settings.DAY_RETENTION_DAYS)).delete()[0]
        samples = Sample.objects.filter(at__lt=sample_cutoff).delete()[0]
        # Claim tokens only need to outlive the buffer's keys (2 days).
        RollupClaim.objects.filter(applied_at__lt=now - timedelta(days=3)).delete()
        result = PruneResult(host_samples_deleted=deleted, minute_rows_deleted=minutes, hour_rows_deleted=hours,
                             samples_deleted=samples)
        audit.set_after(host_samples_deleted=deleted, minute_rows_deleted=minutes, hour_rows_deleted=hours,
                        samples_deleted=samples)
        if not result.total:
            audit.mark_noop()
    return result
