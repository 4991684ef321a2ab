"""The metric registry and the host metrics perfmon publishes in it."""
from datetime import timedelta

import pytest
from django.utils import timezone

from perfmon import registry
from perfmon.models import HostSample
from perfmon.services import record_host_sample

pytestmark = pytest.mark.django_db


def _sample(host, minutes_ago, cpu):
    sample = record_host_sample(cpu_interval=0)
    HostSample.objects.filter(pk=sample.pk).update(host=host, cpu_percent=cpu,
                                                   at=timezone.now() - timedelta(minutes=minutes_ago))


def test_host_cpu_aggregates_per_host_over_the_window():
    _sample("a", 1, 50)
    _sample("a", 2, 90)
    _sample("b", 1, 10)
    _sample("a", 30, 100)  # outside a 5-minute window
    query = registry.Query(end=timezone.now(), window=timedelta(minutes=5), aggregation="avg")
    values = {s.labels["host"]: s.value for s in registry.read("host.cpu_percent", query)}
    assert values == {"a": 70.0, "b": 10.0}
    last = registry.Query(end=timezone.now(), window=timedelta(minutes=5), aggregation="last", labels={"host": "a"})
    assert [s.value for s in registry.read("host.cpu_percent", last)] == [50.0]


def test_unknown_metric_and_aggregation_are_clear_errors():
    with pytest.raises(registry.UnknownMetric, match="no metric named 'nope'"):
        registry.get("nope")
    with pytest.raises(ValueError, match="does not support aggregation 'p99'"):
        registry.read("host.cpu_percent", registry.Query(end=timezone.now(), window=timedelta(minutes=1),
                                                         aggregation="p99"))
