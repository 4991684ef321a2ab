"""GET /api/performance/metrics/realtime and /api/performance/optimization."""
from datetime import timedelta

import pytest
from django.utils import timezone

from perfmon.models import HostSample, TrafficMinute
from perfmon.rollup import rollup_minutes
from perfmon.schema import HTTP
from tests.perfmon.conftest import set_perfmon

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.perfmon.urls")]


def test_realtime_reads_the_last_minute_from_the_buffer(redis_buffer, recorder, viewer_client, raw_client):
    HostSample.objects.create(host="h1", at=timezone.now(), cpu_percent=12.5, load1=0, load5=0, load15=0,
                              memory_percent=40.0, swap_percent=0, disk_percent=10, disk_read_bytes=0,
                              disk_write_bytes=0, net_sent_bytes=0, net_recv_bytes=0, process_rss_bytes=1)
    for n in (1, 2, 3, 4):
        viewer_client.get(f"/t/items/{n}")
    raw_client.get("/t/boom")
    assert recorder.flush()
    response = viewer_client.get("/api/performance/metrics/realtime")
    assert response.status_code == 200
    body = response.json()
    assert body["buffer"] == "redis"
    assert body["requests"]["requests"] == 5 and body["requests"]["errors"] == 1
    assert body["requests"]["error_rate"] == pytest.approx(0.2)
    assert body["requests"]["rate_per_second"] > 0 and body["requests"]["p95_ms"] > 0
    assert body["cpu_percent"] == 12.5 and body["memory_percent"] == 40.0
    assert body["busiest_routes"][0]["route"] == "/t/items/<int:n>" and body["busiest_routes"][0]["requests"] == 4
    assert {r["route"] for r in body["slowest_routes"]} == {"/t/items/<int:n>", "/t/boom"}


def test_realtime_includes_minutes_already_rolled_up(redis_buffer, recorder, viewer_client):
    now = timezone.now()
    TrafficMinute.objects.create(kind=HTTP, bucket=now.replace(second=0, microsecond=0), route="/rolled", method="GET",
                                 status=200, count=7, duration_sum_ms=70, duration_max_ms=10, h06=7)
    body = viewer_client.get("/api/performance/metrics/realtime").json()
    assert body["requests"]["requests"] >= 7


def test_realtime_needs_a_signed_in_user(client):
    assert client.get("/api/performance/metrics/realtime").status_code in (401, 403)
    assert client.get("/api/performance/optimization").status_code in (401, 403)


def test_optimization_report_is_cached_with_an_etag_and_invalidated_by_the_rollup(redis_buffer, recorder, settings,
                                                                                   viewer_client):
    set_perfmon(settings, SLOW_QUERY_THRESHOLD_MS=20.0)
    viewer_client.get("/t/slow")
    viewer_client.get("/t/big", HTTP_ACCEPT_ENCODING="gzip")
    assert recorder.flush()
    rollup_minutes(now=timezone.now() + timedelta(minutes=2))

    first = viewer_client.get("/api/performance/optimization?window=1h")
    assert first.status_code == 200
    body = first.json()
    assert body["cache"]["target"] == 0.8
    assert body["response_time"]["target_ms"] == 200.0
    assert any(r["route"] == "/t/slow" for r in body["response_time"]["slowest_routes"])
    assert body["slow_queries"][0]["route"] == "/t/slow" and "pg_sleep" in body["slow_queries"][0]["sql"]
    assert body["compression"]["bytes_saved"] > 0
    etag = first["ETag"]

    second = viewer_client.get("/api/performance/optimization?window=1h")
    assert second["X-Cache"] == "hit" and second["ETag"] == etag
    not_modified = viewer_client.get("/api/performance/optimization?window=1h", HTTP_IF_NONE_MATCH=etag)
    assert not_modified.status_code == 304 and not not_modified.content

    # new rows land: the cached read is stale, the body (and so the ETag) changes
    viewer_client.get("/t/slow")
    assert recorder.flush()
    rollup_minutes(now=timezone.now() + timedelta(minutes=2))
    third = viewer_client.get("/api/performance/optimization?window=1h", HTTP_IF_NONE_MATCH=etag)
    assert third.status_code == 200 and third["X-Cache"] == "miss" and third["ETag"] != etag


def test_optimization_rejects_a_bad_window(viewer_client):
    response = viewer_client.get("/api/performance/optimization?window=forever")
    assert response.status_code == 400
    assert "window" in response.json()["error"]["fields"]
