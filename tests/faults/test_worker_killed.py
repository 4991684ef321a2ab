"""A Celery worker killed with kill -9 in the middle of a manual scale: with acks_late,
reject_on_worker_lost and a short visibility timeout, the broker hands the task to the
next worker, which completes the scale exactly once (one event, one audit row, the
instances asked for and no more).

The task is held "in the middle" deterministically: the test holds the group's lease,
so the worker's scale_group waits for it (up to 10 s) when it is killed."""
import os
import signal
import uuid

import psutil
import pytest

from perfmon.locks import get_lease
from perfmon.models import AuditRecord
from scaling import services
from scaling.models import Instance, ScalingEvent, ScalingGroup
from scaling.tasks import scale_group_task
from tests.support import child_env, need_postgres, need_redis, start_worker, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

VISIBILITY_SECONDS = "4"


def test_scale_in_flight_on_a_killed_worker_completes_exactly_once_on_the_next(tmp_path, monkeypatch):
    need_postgres()
    need_redis()
    name = f"kill-{uuid.uuid4().hex[:6]}"
    group = ScalingGroup.objects.create(name=name, min_instances=0, max_instances=3, backend_options={
        "command": "python -m http.server {port} --bind 127.0.0.1", "health_path": "/"})
    queue = f"faults-{name}"
    env = child_env(CELERY_VISIBILITY_TIMEOUT=VISIBILITY_SECONDS, CELERY_DEFAULT_QUEUE=queue,
                    SCALING_BASE_PORT=str(20000 + os.getpid() % 20000))
    lease = get_lease(f"scaling-group-{name}", 60)
    assert lease.acquire()
    first = start_worker(tmp_path, env, queue, f"w1-{name}")
    second = None
    try:
        result = scale_group_task.apply_async(args=[name, 2, "fault test: worker killed"], queue=queue)
        wait_until(lambda: f"scaling.tasks.scale_group_task[{result.id}] received" in first.output(), 20,
                   message="the first worker to take the task")
        os.kill(first.proc.pid, signal.SIGKILL)  # the task is in flight, waiting for the lease
        first.proc.wait(10)
        lease.release()
        assert not ScalingEvent.objects.filter(group=group).exists()

        second = start_worker(tmp_path, env, queue, f"w2-{name}")
        wait_until(lambda: f"{result.id}] succeeded" in second.output(), 60, message="the redelivered task's success")
        assert ScalingEvent.objects.filter(group=group, kind=ScalingEvent.Kind.MANUAL).count() == 1
        assert AuditRecord.objects.filter(action="scaling.scale_group", target=name).count() == 1
        group.refresh_from_db()
        live = Instance.objects.filter(group=group, state__in=Instance.LIVE_STATES)
        assert group.desired_instances == 2 and live.count() == 2
        assert all(psutil.pid_exists(i.meta["pid"]) for i in live)
        # nothing was left to run a second time
        assert second.output().count(f"scaling.tasks.scale_group_task[{result.id}]") == 2  # received, succeeded
    finally:
        lease.release()
        for proc in (first, second):
            if proc is not None:
                proc.stop()
        services.scale_group(group=name, instances=0, actor="faults test", reason="clean up")
