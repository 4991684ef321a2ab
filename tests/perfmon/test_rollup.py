"""The rollup counts every request once: run twice, late, concurrently, or after a crash."""
import threading
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from perfmon.models import RollupClaim, TrafficDay, TrafficHour, TrafficMinute
from perfmon.recorder import Recorder
from perfmon.rollup import apply_batch, rollup_hours, rollup_minutes
from perfmon.schema import ALL_ROUTES, HTTP
from perfmon.selectors import route_stats, segments, traffic_series, traffic_stats


def _minute(dt: datetime) -> int:
    return int(dt.timestamp()) // 60 * 60


def _mid_minute() -> datetime:
    """A reference "now" 30 s into the current minute, so which minutes count as closed
    (ended over ROLLUP_GRACE_SECONDS ago) does not depend on when the test runs."""
    return timezone.now().replace(second=30, microsecond=0)


def _write(buffer, minute: int, route: str, durations: list[float], status: int = 200) -> None:
    """Count requests with known durations at a given minute and flush them, as a process would."""
    recorder = Recorder(buffer_factory=lambda: buffer, clock=lambda: minute + 1)
    for duration in durations:
        recorder.record(HTTP, route, "GET", status, duration)
    assert recorder.flush()


def _total(route: str | None = None) -> int:
    rows = TrafficMinute.objects.filter(kind=HTTP)
    if route:
        rows = rows.filter(route=route)
    return rows.aggregate(n=Sum("count"))["n"] or 0


def _total_before(at: datetime) -> int:
    return TrafficMinute.objects.filter(bucket__lt=at).aggregate(n=Sum("count"))["n"] or 0


@pytest.mark.django_db
def test_percentiles_from_known_durations(redis_buffer):
    now = _mid_minute()
    minute = _minute(now - timedelta(minutes=3))
    _write(redis_buffer, minute, "/a", [float(d) for d in range(1, 101)])  # 1..100 ms
    _write(redis_buffer, minute, "/a", [900.0] * 5, status=503)
    rollup_minutes(now=now)
    stats = traffic_stats(now - timedelta(minutes=10), now, route="/a")
    assert stats.requests == 105 and stats.errors == 5 and stats.max_ms == 900.0
    # within the bucket resolution: p50 of 1..100 (+5 x 900) is the 53rd value, in the (50, 75] bucket
    assert 50 < stats.p50_ms <= 75
    assert 750 < stats.p99_ms <= 900
    assert route_stats(now - timedelta(minutes=10), now)[0].route == "/a"


@pytest.mark.django_db
def test_rollup_twice_and_late_data_counts_once(redis_buffer):
    now = _mid_minute()
    minute = _minute(now - timedelta(minutes=2))
    _write(redis_buffer, minute, "/late", [5.0] * 10)
    assert rollup_minutes(now=now).parts_applied == 1
    assert rollup_minutes(now=now).parts_applied == 0
    assert _total("/late") == 10
    # a process flushes late for a minute already rolled up: the next run adds it
    _write(redis_buffer, minute, "/late", [5.0] * 3)
    assert rollup_minutes(now=now).parts_applied == 1
    assert _total("/late") == 13
    assert TrafficMinute.objects.filter(route="/late").count() == 1
    # the current minute is not taken until it has closed
    _write(redis_buffer, _minute(now), "/late", [5.0])
    assert rollup_minutes(now=now).parts_applied == 0
    assert _total("/late") == 13


@pytest.mark.django_db
def test_a_drain_that_died_midway_is_finished_by_the_next_without_double_counting(redis_buffer):
    now = _mid_minute()
    minute = _minute(now - timedelta(minutes=2))
    _write(redis_buffer, minute, "/crash", [5.0] * 7)

    # 1) died after claiming, before applying: the next drain applies the claim
    class Died(Exception):
        pass

    def die(batch, token):
        raise Died

    with pytest.raises(Died):
        redis_buffer.drain(die, before_minute=_minute(now))
    assert _total("/crash") == 0 and redis_buffer.client.scard(redis_buffer._key("claims")) == 1
    assert rollup_minutes(now=now).parts_applied == 1
    assert _total("/crash") == 7

    # 2) died after applying (committed), before deleting the claim: the token stops a second apply
    _write(redis_buffer, minute, "/crash", [5.0] * 2)

    def apply_then_die(batch, token):
        apply_batch(batch, token)
        raise Died

    with pytest.raises(Died):
        redis_buffer.drain(apply_then_die, before_minute=_minute(now))
    assert _total("/crash") == 9 and redis_buffer.client.scard(redis_buffer._key("claims")) == 1
    assert rollup_minutes(now=now).parts_applied == 0
    assert _total("/crash") == 9 and redis_buffer.client.scard(redis_buffer._key("claims")) == 0
    assert RollupClaim.objects.count() == 2


def _concurrently(n: int, target) -> list:
    results, errors = [], []
    barrier = threading.Barrier(n)

    def run():
        try:
            barrier.wait()
            results.append(target())
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("buffer_fixture", ["redis_buffer", "db_buffer"])
def test_concurrent_rollups_count_every_request_once(buffer_fixture, request):
    buffer = request.getfixturevalue(buffer_fixture)
    now = _mid_minute()
    expected = 0
    for back in range(1, 6):
        for route in ("/x", "/y"):
            for _process in range(3):
                _write(buffer, _minute(now - timedelta(minutes=back)), route, [float(back)] * back)
                expected += back
    results = _concurrently(4, lambda: rollup_minutes(now=now).parts_applied)
    assert sum(results) >= 1
    assert _total() == expected
    assert _concurrently(2, lambda: rollup_minutes(now=now).parts_applied) == [0, 0]
    assert _total() == expected
    assert TrafficMinute.objects.count() == 10  # 5 minutes x 2 routes, one row each


@pytest.mark.django_db
def test_hour_and_day_rollups_are_idempotent_and_long_ranges_read_them(redis_buffer):
    now = _mid_minute()
    start = (now - timedelta(days=5)).replace(minute=0, second=0, microsecond=0)
    rows = []
    for i in range(0, 5 * 24 * 60, 37):
        at = start + timedelta(minutes=i)
        row = {"kind": HTTP, "bucket": at, "route": f"/r{i % 3}", "method": "GET", "status": 500 if i % 5 == 0 else 200,
               "count": 4, "duration_sum_ms": 40.0, "duration_max_ms": float(i % 50), "h06": 4}
        rows.append(TrafficMinute(**row))
    TrafficMinute.objects.bulk_create(rows)
    assert rollup_hours(now=now).hours_recomputed >= 5 * 24 - 2
    snapshot = list(TrafficHour.objects.order_by("bucket", "route", "status").values())
    days = list(TrafficDay.objects.order_by("bucket", "route", "status").values())
    rollup_hours(now=now)
    assert list(TrafficHour.objects.order_by("bucket", "route", "status").values()) == snapshot
    assert list(TrafficDay.objects.order_by("bucket", "route", "status").values()) == days
    hour_mark = max(r["bucket"] for r in snapshot) + timedelta(hours=1)
    day_mark = max(r["bucket"] for r in days) + timedelta(days=1)
    for tier, mark in ((snapshot, hour_mark), (days, day_mark)):
        # per-route rows and the all-routes rows each add up to the minutes they cover
        assert sum(r["count"] for r in tier if r["route"] != ALL_ROUTES) == _total_before(mark)
        assert sum(r["count"] for r in tier if r["route"] == ALL_ROUTES) == _total_before(mark)
        assert max(r["duration_max_ms"] for r in tier if r["route"] == ALL_ROUTES) == \
            max(r["duration_max_ms"] for r in tier if r["route"] != ALL_ROUTES)

    plan = [model for model, _s, _e in segments(start, now)]
    assert TrafficDay in plan and TrafficHour in plan and TrafficMinute in plan
    long = traffic_stats(start, now)
    assert long.requests == sum(r.count for r in rows)
    assert long.errors == sum(r.count for r in rows if r.status == 500)
    assert long.max_ms == max(r.duration_max_ms for r in rows)
    assert sum(r.stats.requests for r in route_stats(start, now, limit=None)) == long.requests
    for step in (timedelta(hours=1), timedelta(hours=6), timedelta(days=1)):
        series = traffic_series(start, now, step=step)
        assert sum(p.stats.requests for p in series) == long.requests
    assert len(traffic_series(start, now, step=timedelta(days=1))) in (5, 6)
