"""The beat schedule sync and the leases that keep beat (and other singletons) single."""
import re
import signal
import sys
import time
import uuid

import pytest
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from config.beat import MANAGED_MARK, sync_beat_schedule
from config.beat_schedule import SCHEDULE
from perfmon.locks import FileLease, PostgresAdvisoryLease, RedisLease
from tests.support import Process, child_env, need_postgres, need_redis, wait_until

SMALL = {
    "test: every ten": {"task": "perfmon.tasks.collect_host_metrics_task", "every": 10, "expires": 10},
    "test: hourly": {"task": "perfmon.tasks.prune_metrics_task", "crontab": {"minute": "5"}, "expires": 3600},
}


@pytest.mark.django_db
def test_sync_creates_every_entry_of_the_real_schedule():
    report = sync_beat_schedule()
    assert sorted(report["created"]) == sorted(SCHEDULE)
    for name, entry in SCHEDULE.items():
        task = PeriodicTask.objects.get(name=name)
        assert task.task == entry["task"] and task.enabled
        assert task.expire_seconds == entry["expires"]
    assert sync_beat_schedule()["unchanged"] == list(SCHEDULE)


@pytest.mark.django_db
def test_sync_keeps_the_operators_enabled_flag_and_updates_timing():
    sync_beat_schedule(SMALL)
    PeriodicTask.objects.filter(name="test: every ten").update(enabled=False)
    changed = {**SMALL, "test: every ten": {**SMALL["test: every ten"], "every": 20}}
    report = sync_beat_schedule(changed)
    task = PeriodicTask.objects.get(name="test: every ten")
    assert report["updated"] == ["test: every ten"]
    assert task.interval.every == 20 and task.enabled is False
    assert PeriodicTask.objects.filter(name="test: every ten").count() == 1


@pytest.mark.django_db
def test_entries_removed_from_the_schedule_are_disabled_not_deleted():
    sync_beat_schedule(SMALL)
    operator_task = PeriodicTask.objects.create(
        name="operator's own", task="perfmon.tasks.prune_metrics_task",
        interval=IntervalSchedule.objects.create(every=60, period=IntervalSchedule.SECONDS))
    report = sync_beat_schedule({"test: hourly": SMALL["test: hourly"]})
    assert report["disabled"] == ["test: every ten"]
    gone = PeriodicTask.objects.get(name="test: every ten")
    assert gone.enabled is False and gone.description.startswith(MANAGED_MARK)
    operator_task.refresh_from_db()
    assert operator_task.enabled is True


def _exclusive(make):
    first, second = make(), make()
    try:
        assert first.acquire() is True
        assert second.acquire() is False
        assert first.renew() is True
        first.release()
        assert second.acquire() is True
        assert first.acquire() is False
    finally:
        for lease in (first, second):
            if lease.held:
                lease.release()


def test_file_lease_is_exclusive(tmp_path):
    _exclusive(lambda: FileLease("unit", directory=tmp_path))


def test_redis_lease_is_exclusive_and_expires():
    need_redis()
    name = f"unit-{uuid.uuid4().hex}"
    _exclusive(lambda: RedisLease(name, ttl_seconds=5))
    holder = RedisLease(name, ttl_seconds=0.3)
    assert holder.acquire()
    time.sleep(0.5)  # the holder died without releasing: the TTL frees it
    other = RedisLease(name, ttl_seconds=5)
    assert other.acquire() and holder.renew() is False
    other.release()


@pytest.mark.django_db
def test_postgres_advisory_lease_is_exclusive():
    need_postgres()
    name = f"unit-{uuid.uuid4().hex}"
    _exclusive(lambda: PostgresAdvisoryLease(name))


def _sends(log: str, name: str) -> int:
    return len(re.findall(rf"Sending due task {re.escape(name)} ", log))


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_two_beats_schedule_once_and_the_standby_takes_over(tmp_path):
    need_redis()
    need_postgres()
    name = f"test heartbeat {uuid.uuid4().hex[:6]}"
    PeriodicTask.objects.create(name=name, task="perfmon.tasks.collect_host_metrics_task", expire_seconds=5,
                                interval=IntervalSchedule.objects.create(every=1, period=IntervalSchedule.SECONDS))
    queue = f"beat-test-{uuid.uuid4().hex[:8]}"
    env = child_env(BEAT_LEASE_TTL="3", CELERY_DEFAULT_QUEUE=queue)
    args = [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO", "--pidfile", "",
            "--max-interval", "1"]
    beats = [Process(args + ["--schedule", str(tmp_path / f"b{i}")], env, tmp_path / f"beat{i}.log")
             for i in (1, 2)]
    try:
        wait_until(lambda: sum(_sends(b.output(), name) for b in beats) >= 5, 40, message="five heartbeats")
        counts = [_sends(b.output(), name) for b in beats]
        assert min(counts) == 0, f"both beats sent the task: {counts}"
        leader, standby = (beats[0], beats[1]) if counts[0] else (beats[1], beats[0])
        leader.stop(signal.SIGKILL)  # dies holding the lease
        wait_until(lambda: _sends(standby.output(), name) >= 3, 30, message="the standby beat to take over")
    finally:
        for beat in beats:
            beat.stop()
        import redis
        from django.conf import settings
        redis.Redis.from_url(settings.REDIS_URL).delete(queue)
