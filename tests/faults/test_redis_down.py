"""Redis stopped and started again while gunicorn serves a steady stream of requests.

The test runs a Redis server of its own (the shared one keeps running for everyone
else) and points the web process at it: cache, broker, throttles and the metrics
buffer. Requests keep being answered 200; perfmon counts what it had to drop while
Redis was down, counts again once it is back, and the rollup counts nothing twice."""
import shutil
import threading
import time
import uuid
from datetime import timedelta

import pytest
import redis
from django.db.models import Sum
from django.utils import timezone
from rest_framework.authtoken.models import Token

from perfmon.buffer.redis import RedisBuffer
from perfmon.models import TrafficMinute
from perfmon.rollup import rollup_minutes
from perfmon.schema import COUNT, HTTP
from tests.perfmon.conftest import set_perfmon
from tests.faults.conftest import start_api_web
from tests.support import Process, child_env, free_port, http_get, need_postgres, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROUTES = ("/livez", "/api/performance/alerts")


def start_redis(tmp_path, port: int) -> Process:
    server = shutil.which("redis-server")
    if not server:
        pytest.fail("redis-server is not installed")
    proc = Process([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                   {"PATH": "/usr/bin:/bin"}, tmp_path / f"redis-{port}-{time.monotonic_ns()}.log")
    wait_until(lambda: redis.Redis(port=port, socket_connect_timeout=0.5).ping(), 10, message="private Redis")
    return proc


class Stream:
    """A steady, bounded stream of requests from one thread, statuses kept per phase."""

    def __init__(self, base: str, token: str):
        self.base, self.headers = base, {"Authorization": f"Token {token}"}
        self.phase, self.statuses = "up", {}
        self._stop, self._go, self._idle = threading.Event(), threading.Event(), threading.Event()
        self._go.set()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            if not self._go.is_set():
                self._idle.set()
                self._go.wait()
                continue
            self._idle.clear()
            for route in ROUTES:
                status = http_get(self.base + route, timeout=10, headers=self.headers)[0]
                self.statuses.setdefault(self.phase, []).append(status)
            time.sleep(0.02)

    def pause(self):
        self._go.clear()
        self._idle.wait(30)

    def resume(self, phase: str):
        self.phase = phase
        self._go.set()

    def sent(self, *phases: str) -> int:
        return sum(len(self.statuses.get(phase, [])) for phase in phases)

    def stop(self):
        self._stop.set()
        self._go.set()
        self.thread.join(30)


def _counted(buffer: RedisBuffer) -> int:
    return int(sum(v[COUNT] for k, v in buffer.totals().rows.items() if k[0] == HTTP and k[2] in ROUTES))


def _stored() -> int:
    return TrafficMinute.objects.filter(kind=HTTP, route__in=ROUTES).aggregate(n=Sum("count"))["n"] or 0


def test_requests_are_served_while_redis_restarts_and_nothing_is_counted_twice(tmp_path, settings, staff_user):
    need_postgres()
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    prefix = f"pmfault-{uuid.uuid4().hex[:6]}"
    token = Token.objects.create(user=staff_user).key
    redis_proc = start_redis(tmp_path, port)
    web, base = start_api_web(tmp_path, child_env(REDIS_URL=url, METRICS_KEY_PREFIX=prefix, METRICS_FLUSH_INTERVAL="0.3",
                                              CELERY_BROKER_URL=url))
    buffer = RedisBuffer(url, prefix=prefix)
    set_perfmon(settings, METRICS_BUFFER=url, METRICS_KEY_PREFIX=prefix, FLUSH_THREAD=False)
    stream = Stream(base, token)
    try:
        stream.thread.start()
        wait_until(lambda: stream.sent("up") >= 20, 30, message="requests before the fault")
        stream.pause()
        wait_until(lambda: _counted(buffer) == stream.sent("up"), 10, message="every request so far in the buffer")
        rollup_minutes(now=timezone.now() + timedelta(minutes=2))
        counted_before = _stored()
        assert counted_before == stream.sent("up")

        redis_proc.stop()
        ready, body, _ = http_get(base + "/readyz", timeout=20)
        assert ready == 503 and b"cache" in body, body  # cache errors are misses, yet readiness tells
        stream.resume("down")
        time.sleep(1.5)  # several flush intervals (0.3 s) while down, so some flushes must fail
        wait_until(lambda: stream.sent("down") >= 12, 60, message="requests while Redis is down")
        stream.pause()
        redis_proc = start_redis(tmp_path, port)  # empty: nothing survives a restart without persistence
        stream.resume("back")
        wait_until(lambda: stream.sent("back") >= 20, 30, message="requests after the restart")
        stream.stop()

        after = stream.sent("down", "back")
        # the drops may include the /readyz request above (a route outside ROUTES)
        try:
            wait_until(lambda: buffer.dropped_total() > 0 and
                       _counted(buffer) + buffer.dropped_total() in (after, after + 1), 15,
                       message="counting resumed, drops reported")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: sent {after} ({stream.sent('down')} while down), counted "
                                 f"{_counted(buffer)}, dropped {buffer.dropped_total()}") from None
        for _ in range(2):  # a second rollup finds nothing new
            rollup_minutes(now=timezone.now() + timedelta(minutes=2))
        assert _stored() == counted_before + _counted(buffer)
        assert 0 < buffer.dropped_total() <= stream.sent("down") + 1
    finally:
        stream.stop()
        web.stop()
        redis_proc.stop()
    assert {phase: sorted(set(codes)) for phase, codes in stream.statuses.items()} == \
        {phase: [200] for phase in stream.statuses}, web.output()[-3000:]
