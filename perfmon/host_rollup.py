"""Host samples -> hourly rows (HostHour), for the dashboard's day and week views and
for reports over long ranges."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Max, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from .conf import perfmon_settings
from .models import HostHour, HostSample
from .upsert import upsert

LOOKBACK_HOURS = 3
VALUES = ("samples", "cpu_sum", "cpu_max", "memory_sum", "memory_max", "disk_max", "load1_max")


@dataclass(frozen=True)
class HostRollupResult:
    hours_written: int
    hours_deleted: int


def rollup_host_hours(*, now: datetime | None = None, lookback_hours: int = LOOKBACK_HOURS) -> HostRollupResult:
    """Recompute the last `lookback_hours` hours (the current one included) from their
    samples and replace their rows: running twice, late or concurrently writes the same
    rows; samples that arrive late within the lookback are counted. Hour rows older than
    the hour retention are deleted."""
    now = now or timezone.now()
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=lookback_hours - 1)
    rows = (HostSample.objects.filter(at__gte=start, at__lt=now + timedelta(seconds=1))
            .annotate(hour=TruncHour("at")).values("host", "hour")
            .annotate(samples=Count("id"), cpu_sum=Sum("cpu_percent"), cpu_max=Max("cpu_percent"),
                      memory_sum=Sum("memory_percent"), memory_max=Max("memory_percent"),
                      disk_max=Max("disk_percent"), load1_max=Max("load1")).order_by())
    written = upsert(HostHour, [dict(r) for r in rows], key=("host", "hour"), values=VALUES, replace=True)
    cutoff = now - timedelta(days=perfmon_settings.HOUR_RETENTION_DAYS)
    deleted, _ = HostHour.objects.filter(hour__lt=cutoff).delete()
    return HostRollupResult(hours_written=written, hours_deleted=deleted)
