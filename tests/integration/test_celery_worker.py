"""A real Celery worker process receives a task through Redis and writes to PostgreSQL."""
import uuid

import pytest

from perfmon.models import HostSample
from perfmon.tasks import collect_host_metrics_task
from tests.support import child_env, need_postgres, need_redis, start_worker, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_worker_runs_a_task_sent_through_redis_and_writes_postgres(tmp_path):
    need_postgres()
    need_redis()
    queue = f"it-{uuid.uuid4().hex[:8]}"
    worker = start_worker(tmp_path, child_env(CELERY_DEFAULT_QUEUE=queue), queue, f"it-{queue}")
    try:
        assert HostSample.objects.count() == 0
        result = collect_host_metrics_task.apply_async(queue=queue)
        sample = wait_until(lambda: HostSample.objects.first(), 30, message="the worker's HostSample row")
        assert 0 <= sample.cpu_percent <= 100 and sample.process_rss_bytes > 0
        assert HostSample.objects.count() == 1
        wait_until(lambda: f"{result.id}] succeeded" in worker.output(), 10, message="the success log line")
    finally:
        worker.stop()
