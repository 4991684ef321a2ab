"""The optimize action: a Celery job with a status endpoint, staff only, one per type at a time."""
import uuid

import pytest

from perfmon.models import AuditRecord
from perfmon.ops.models import OptimizationRun
from tests.support import child_env, need_postgres, need_redis, start_worker, wait_until


@pytest.mark.django_db
def test_bad_type_is_a_400_naming_the_field(staff_client):
    response = staff_client.post("/api/performance/optimize", {"type": "everything"}, content_type="application/json")
    assert response.status_code == 400 and "type" in response.json()["error"]["fields"]
    assert not OptimizationRun.objects.exists()


@pytest.mark.django_db
def test_non_staff_cannot_optimize(viewer_client):
    assert viewer_client.post("/api/performance/optimize", {"type": "all"},
                              content_type="application/json").status_code == 403
    assert not OptimizationRun.objects.exists()


@pytest.mark.django_db
def test_a_second_request_while_one_is_queued_returns_the_same_run(staff_client):
    first = staff_client.post("/api/performance/optimize", {"type": "cache"}, content_type="application/json")
    second = staff_client.post("/api/performance/optimize", {"type": "cache"}, content_type="application/json")
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"] and OptimizationRun.objects.count() == 1
    assert [r.result for r in AuditRecord.objects.filter(action="perfmon.optimize").order_by("id")] == ["ok", "noop"]


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_optimize_runs_as_a_celery_job_and_reports_progress(tmp_path, staff_client, monkeypatch):
    need_postgres()
    need_redis()
    queue = f"opt-{uuid.uuid4().hex[:8]}"
    worker = start_worker(tmp_path, child_env(CELERY_DEFAULT_QUEUE=queue), queue, f"w-{queue}", monkeypatch)
    try:
        response = staff_client.post("/api/performance/optimize", {"type": "all", "reason": "test"},
                                     content_type="application/json")
        assert response.status_code == 202
        body = response.json()
        assert body["task_id"] and body["status_url"].endswith(f"/api/performance/optimize/{body['id']}")
        done = wait_until(lambda: (lambda b: b if b["status"] in ("done", "failed") else None)(
            staff_client.get(f"/api/performance/optimize/{body['id']}").json()), 60, interval=0.5,
            message="the optimization job to finish")
        assert done["status"] == "done", done
        assert done["progress"] and set(done["progress"].values()) == {"done"}
    finally:
        worker.stop()
