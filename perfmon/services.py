"""perfmon's actions: one public function per action."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from .audit import audited
from .collectors import read_host
from .conf import perfmon_settings
from .models import HostSample


@dataclass(frozen=True)
class PruneResult:
    host_samples_deleted: int


def record_host_sample(*, cpu_interval: float = 0.5) -> HostSample:
    """Read this host with psutil and store the sample. Collection, not an action: not audited."""
    reading = read_host(cpu_interval=cpu_interval)
    return HostSample.objects.create(**reading.as_dict())


def prune_metrics(*, actor: object = "perfmon.retention", reason: str = "retention",
                  host_sample_days: int | None = None) -> PruneResult:
    """Delete samples older than their retention. Running it twice deletes nothing more."""
    days = host_sample_days if host_sample_days is not None else perfmon_settings.HOST_SAMPLE_RETENTION_DAYS
    cutoff = timezone.now() - timedelta(days=days)
    with audited("perfmon.prune_metrics", actor=actor, reason=reason, target="HostSample",
                 before={"older_than": cutoff.isoformat()}) as audit:
        deleted, _ = HostSample.objects.filter(at__lt=cutoff).delete()
        audit.set_after(host_samples_deleted=deleted)
        if not deleted:
            audit.mark_noop()
    return PruneResult(host_samples_deleted=deleted)
