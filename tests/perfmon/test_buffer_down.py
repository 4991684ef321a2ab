"""With the buffer down, requests are still served; drops are counted and reported;
counting resumes when the buffer is back. (The buffer is pointed at a closed port:
the shared Redis server keeps running for everyone else.)"""
import pytest
from django.utils import timezone

from perfmon.buffer import get_buffer
from perfmon.schema import COUNT, HTTP
from tests.perfmon.conftest import set_perfmon
from tests.support import free_port

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.perfmon.urls")]


def _count(buffer, route: str) -> int:
    batch = buffer.pending(since_minute=int(timezone.now().timestamp()) // 60 * 60 - 120)
    return int(sum(v[COUNT] for k, v in batch.rows.items() if k[0] == HTTP and k[2] == route))


def test_requests_are_served_while_the_buffer_is_down_and_counting_resumes(redis_buffer, recorder, settings,
                                                                            client):
    real_url = settings.PERFMON["METRICS_BUFFER"]
    set_perfmon(settings, METRICS_BUFFER=f"redis://127.0.0.1:{free_port()}/0")
    for _ in range(4):
        assert client.get("/t/items/1").status_code == 200
    assert recorder.flush() is False
    assert recorder.dropped_requests == 4 and "ConnectionError" in recorder.last_error
    assert client.get("/healthz").status_code == 200
    assert recorder.flush() is False
    assert recorder.dropped_requests == 5

    set_perfmon(settings, METRICS_BUFFER=real_url)
    buffer = get_buffer()
    for _ in range(3):
        assert client.get("/t/items/1").status_code == 200
    assert recorder.flush() is True
    assert _count(buffer, "/t/items/<int:n>") == 3
    assert buffer.dropped_total() == 5
    # the drop count is reported once, not on every flush
    client.get("/healthz")
    assert recorder.flush() is True
    assert buffer.dropped_total() == 5


def test_realtime_endpoint_reports_drops(redis_buffer, recorder, settings, viewer_client):
    real_url = settings.PERFMON["METRICS_BUFFER"]
    set_perfmon(settings, METRICS_BUFFER=f"redis://127.0.0.1:{free_port()}/0")
    viewer_client.get("/healthz")
    assert recorder.flush() is False
    set_perfmon(settings, METRICS_BUFFER=real_url)
    assert recorder.flush() is True
    body = viewer_client.get("/api/performance/metrics/realtime").json()
    assert body["dropped_requests"] == 1
    assert body["this_process"]["dropped_requests"] == 1
