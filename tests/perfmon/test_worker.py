"""A real Celery worker counts its tasks' run time and outcome through the signals and
its flusher thread, into the shared buffer."""
import uuid

import pytest

from perfmon.buffer.redis import RedisBuffer
from perfmon.schema import COUNT, TASK
from tests.support import child_env, need_postgres, need_redis, start_worker, wait_until


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_task_metrics_from_a_real_worker(tmp_path):
    url = need_redis()
    need_postgres()
    from config.celery import app

    prefix = f"pmworker-{uuid.uuid4().hex[:8]}"
    queue = f"pm-worker-{uuid.uuid4().hex[:8]}"
    buffer = RedisBuffer(url, prefix=prefix)
    worker = start_worker(tmp_path, child_env(METRICS_KEY_PREFIX=prefix, METRICS_FLUSH_INTERVAL="0.5"), queue,
                          f"pm-{uuid.uuid4().hex[:6]}")
    name = "perfmon.tasks.collect_host_metrics_task"

    def done() -> dict:
        return {k[4]: v[COUNT] for k, v in buffer.totals().rows.items() if k[0] == TASK and k[2] == name}

    try:
        for _ in range(3):
            app.send_task(name, queue=queue)
        wait_until(lambda: done() == {0: 3}, 40, message="three task runs in the buffer")
    finally:
        worker.stop()
        buffer.clear()
