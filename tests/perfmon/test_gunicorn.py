"""Several gunicorn workers, each with its own flusher thread: totals are exact, and
/metrics answers the same whole-deployment count whichever worker serves the scrape."""
import threading
import uuid
from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from perfmon.buffer.redis import RedisBuffer
from perfmon.models import TrafficMinute
from perfmon.rollup import rollup_minutes
from perfmon.schema import COUNT, HTTP
from tests.perfmon.conftest import set_perfmon
from tests.support import child_env, http_get, need_postgres, need_redis, start_web, wait_until

REQUESTS = 120


def _livez_total(buffer: RedisBuffer) -> int:
    return int(sum(v[COUNT] for k, v in buffer.totals().rows.items() if k[0] == HTTP and k[2] == "/livez"))


def _scraped(base: str) -> float:
    status, body, _ = http_get(base + "/metrics")
    assert status == 200
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == "http_server_request_duration_seconds_count" and sample.labels["http_route"] == "/livez":
                return sample.value
    return 0.0


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_totals_are_exact_across_gunicorn_workers(tmp_path, settings):
    url = need_redis()
    need_postgres()
    prefix = f"pmint-{uuid.uuid4().hex[:8]}"
    buffer = RedisBuffer(url, prefix=prefix)
    proc, base = start_web(tmp_path, child_env(METRICS_KEY_PREFIX=prefix, METRICS_FLUSH_INTERVAL="0.5"), workers=3)
    try:
        def hammer():
            for _ in range(REQUESTS // 6):
                assert http_get(base + "/livez")[0] == 200

        threads = [threading.Thread(target=hammer) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        wait_until(lambda: _livez_total(buffer) == REQUESTS, 20, message=f"{REQUESTS} requests in the buffer")
        assert [_scraped(base) for _ in range(6)] == [REQUESTS] * 6
        pids = {line.split("pid: ")[1].split(")")[0] for line in proc.output().splitlines() if "Booting worker" in line}
        assert len(pids) == 3
    finally:
        proc.stop()
    assert _livez_total(buffer) == REQUESTS  # nothing lost or doubled at shutdown (idle workers flush nothing)

    set_perfmon(settings, METRICS_BUFFER=url, METRICS_KEY_PREFIX=prefix, FLUSH_THREAD=False)
    try:
        rollup_minutes(now=timezone.now() + timedelta(minutes=2))
        assert TrafficMinute.objects.filter(route="/livez").aggregate(n=Sum("count"))["n"] == REQUESTS
    finally:
        buffer.clear()
