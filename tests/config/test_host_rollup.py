"""Host samples roll up into hourly rows exactly, however often the rollup runs."""
from datetime import timedelta

import pytest
from django.utils import timezone

from perfmon.host_rollup import rollup_host_hours
from perfmon.models import HostHour, HostSample
from perfmon.services import record_host_sample

pytestmark = pytest.mark.django_db


def sample(at, cpu, host="web-1"):
    s = record_host_sample(cpu_interval=0)
    HostSample.objects.filter(pk=s.pk).update(at=at, cpu_percent=cpu, memory_percent=50, host=host)


def test_hours_are_exact_after_repeated_and_late_runs():
    now = timezone.now().replace(minute=30, second=0, microsecond=0)
    hour = now.replace(minute=0)
    sample(hour + timedelta(minutes=1), 10)
    sample(hour + timedelta(minutes=2), 30)
    sample(hour - timedelta(minutes=30), 90)  # the previous hour
    rollup_host_hours(now=now)
    rollup_host_hours(now=now)
    sample(hour + timedelta(minutes=3), 50)  # arrives late
    rollup_host_hours(now=now)
    current = HostHour.objects.get(hour=hour)
    assert (current.samples, current.cpu_sum, current.cpu_max) == (3, 90.0, 50.0)
    assert HostHour.objects.get(hour=hour - timedelta(hours=1)).cpu_sum == 90.0
    assert HostHour.objects.count() == 2


def test_old_hours_are_deleted():
    HostHour.objects.create(host="h", hour=timezone.now() - timedelta(days=400), samples=1, cpu_sum=1, cpu_max=1,
                            memory_sum=1, memory_max=1, disk_max=1, load1_max=1)
    assert rollup_host_hours().hours_deleted == 1
