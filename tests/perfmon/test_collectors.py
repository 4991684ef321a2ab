"""Collectors against the real Redis, Celery broker and PostgreSQL; task signals; commands; retention."""
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from celery import shared_task
from django.core.management import CommandError, call_command
from django.utils import timezone

from perfmon import registry
from perfmon.collectors import read_celery, read_db_connections, read_redis
from perfmon.models import AuditRecord, Sample, TrafficHour, TrafficMinute
from perfmon.registry import Query
from perfmon.schema import HTTP, TASK
from perfmon.services import collect_metrics, prune_metrics
from tests.support import need_postgres, need_redis

pytestmark = pytest.mark.django_db


def _values(readings, name):
    return {r.labels: r.value for r in readings if r.name == name}


def test_redis_info():
    url = need_redis()
    readings = read_redis(url)
    names = {r.name for r in readings}
    assert {"redis.used_memory_bytes", "redis.connected_clients", "redis.evicted_keys", "redis.ops_per_sec"} <= names
    assert _values(readings, "redis.used_memory_bytes")[()] > 0


def test_celery_queue_depth_and_workers():
    need_redis()
    from config.celery import app

    queue = f"pm-depth-{uuid.uuid4().hex[:8]}"
    for _ in range(3):
        app.send_task("perfmon.tasks.collect_host_metrics_task", queue=queue)
    try:
        readings = read_celery(app, queues=[queue, f"{queue}-empty"], ping_timeout=0.3)
        depth = _values(readings, "celery.queue_depth")
        assert depth[(("queue", queue),)] == 3
        assert depth[(("queue", f"{queue}-empty"),)] == 0
        assert "celery.workers" in {r.name for r in readings}
    finally:
        import redis
        from django.conf import settings

        redis.Redis.from_url(settings.REDIS_URL).delete(queue)


def test_database_connections():
    need_postgres()
    readings = read_db_connections()
    assert _values(readings, "db.connections_total")[()] >= 1
    assert 0 < _values(readings, "db.connections_percent")[()] <= 100


def test_collect_metrics_stores_samples_and_reports_a_source_that_is_down(settings):
    need_redis()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    result = collect_metrics(sources=("redis", "db"))
    assert "redis" in result.errors
    assert Sample.objects.filter(name="db.connections_total").exists()
    series = registry.read("db.connections_total", Query(timezone.now() + timedelta(seconds=1), timedelta(minutes=5),
                                                         "last"))
    assert series and series[0].value >= 1
    with pytest.raises(ValueError, match="unknown metric sources: disk"):
        collect_metrics(sources=("disk",))


def test_collect_metrics_command():
    need_redis()
    out = StringIO()
    call_command("collect_metrics", "--source", "host", "--source", "redis", stdout=out)
    assert "host " in out.getvalue() and "redis.used_memory_bytes" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("collect_metrics", "--source", "nope")


@shared_task(name="tests.perfmon.flaky")
def flaky(fail: bool):
    if fail:
        raise ValueError("failed on purpose")
    return "ok"


def test_task_run_time_and_failures_are_counted_by_task_name(redis_buffer, recorder):
    flaky.apply(args=(False,))
    flaky.apply(args=(False,))
    flaky.apply(args=(True,))
    assert recorder.flush()
    batch = redis_buffer.pending(since_minute=int(timezone.now().timestamp()) // 60 * 60 - 60)
    counts = {(k[2], k[4]): v[0] for k, v in batch.rows.items() if k[0] == TASK}
    assert counts == {("tests.perfmon.flaky", 0): 2, ("tests.perfmon.flaky", 1): 1}
    from perfmon.rollup import rollup_minutes

    rollup_minutes(now=timezone.now() + timedelta(minutes=2))
    failures = registry.read("celery.task_failures", Query(timezone.now() + timedelta(minutes=2),
                                                           timedelta(minutes=10), "count"))
    assert [(s.labels, s.value) for s in failures] == [({"task": "tests.perfmon.flaky"}, 1.0)]
    runtime = registry.read("celery.task_duration_ms", Query(timezone.now() + timedelta(minutes=2), timedelta(minutes=10),
                                                             "count", {"task": "tests.perfmon.flaky"}))
    assert runtime[0].value == 3


def test_registry_reads_request_metrics(redis_buffer):
    now = timezone.now().replace(second=0, microsecond=0)
    TrafficMinute.objects.create(kind=HTTP, bucket=now - timedelta(minutes=2), route="/a", method="GET", status=200,
                                 count=90, duration_sum_ms=900, duration_max_ms=14, h07=90, db_queries=270,
                                 cache_hits=30, cache_misses=10)
    TrafficMinute.objects.create(kind=HTTP, bucket=now - timedelta(minutes=2), route="/a", method="GET", status=502,
                                 count=10, duration_sum_ms=3000, duration_max_ms=400, h16=10)
    q = lambda agg, **labels: Query(now, timedelta(minutes=5), agg, labels)  # noqa: E731
    assert registry.read("http.requests", q("count"))[0].value == 100
    assert registry.read("http.requests", q("rate"))[0].value == pytest.approx(100 / 300)
    assert registry.read("http.error_rate", q("avg"))[0].value == pytest.approx(0.1)
    assert registry.read("http.latency_ms", q("avg", route="/a"))[0].value == pytest.approx(39.0)
    assert 10 < registry.read("http.latency_ms", q("p50", route="/a"))[0].value <= 15
    assert 300 < registry.read("http.latency_ms", q("p99", route="/a"))[0].value <= 400
    assert registry.read("http.db_queries", q("avg"))[0].value == pytest.approx(2.7)
    assert registry.read("cache.hit_rate", q("avg"))[0].value == pytest.approx(0.75)
    assert registry.read("http.latency_ms", q("p95", route="/nothing")) == []
    with pytest.raises(ValueError):
        registry.read("http.latency_ms", q("sum"))


def test_prune_deletes_old_rollups_and_a_second_run_is_a_noop():
    now = timezone.now()
    old = dict(kind=HTTP, route="/r", method="GET", status=200, count=1)
    TrafficMinute.objects.create(bucket=now - timedelta(days=8), **old)
    TrafficMinute.objects.create(bucket=now - timedelta(days=1), **old)
    TrafficHour.objects.create(bucket=now - timedelta(days=91), **old)
    TrafficHour.objects.create(bucket=now - timedelta(days=30), **old)
    Sample.objects.create(name="redis.hit_rate", at=now - timedelta(days=31), value=1)
    result = prune_metrics(actor="test")
    assert (result.minute_rows_deleted, result.hour_rows_deleted, result.samples_deleted) == (1, 1, 1)
    assert TrafficMinute.objects.count() == 1 and TrafficHour.objects.count() == 1
    assert prune_metrics(actor="test").total == 0
    assert list(AuditRecord.objects.filter(action="perfmon.prune_metrics").order_by("id")
                .values_list("result", flat=True)) == ["ok", "noop"]
    out = StringIO()
    call_command("prune_metrics", "--minute-days", "0", stdout=out)
    assert "1 minute rows" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("prune_metrics", "--hour-days", "-1")
