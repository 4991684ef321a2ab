"""dbopt inside the product: its tasks on a real Celery worker, its findings as perfmon
recommendations that apply through its services, statement deltas, pool sizing."""
from __future__ import annotations

import pytest
from django.test import override_settings

from dbopt import findings, selectors, services
from dbopt.models import Finding, MonitoredDatabase
from perfmon.models import AuditRecord
from tests.support import child_env, need_postgres, need_redis, start_worker, wait_until


@override_settings(DBOPT={"UNUSED_INDEX_MIN_BYTES": 0})
def test_findings_become_recommendations_that_apply_through_dbopt(orders):
    from perfmon.ops.models import Recommendation
    from perfmon.ops.recommendations import refresh_recommendations
    from perfmon.ops.services import apply_recommendation

    orders.run("CREATE INDEX orders_never_used ON S.orders (note)")
    db = services.ensure_databases()[0]
    services.collect_database(database=db)
    services.refresh_findings(database=db, with_advice=False)
    result = refresh_recommendations()
    assert not {k: v for k, v in result.errors.items() if k.startswith("dbopt.")}
    rec = Recommendation.objects.get(kind="dbopt.unused_index", subject=f"default:{orders.schema}.orders_never_used")
    assert rec.action == "dbopt.act_on_finding" and rec.evidence["idx_scan"] == 0
    apply_recommendation(recommendation_id=rec.pk, actor="test", reason="unused")
    assert "orders_never_used" not in orders.index_names("orders")
    assert AuditRecord.objects.filter(action="dbopt.drop_index", result="ok").count() == 1
    assert Finding.objects.get(subject=f"{orders.schema}.orders_never_used", kind="unused_index").status == "resolved"


def test_top_queries_carry_the_change_since_the_previous_snapshot(orders):
    db = services.ensure_databases()[0]
    orders.reset_statements()
    for i in range(3):
        orders.run("SELECT id FROM S.orders WHERE customer_id = %s", (i,)).fetchall()
    services.collect_database(database=db)
    for i in range(5):
        orders.run("SELECT id FROM S.orders WHERE customer_id = %s", (i,)).fetchall()
    services.collect_database(database=db)
    row = next(q for q in selectors.database_status(db, top=50)["top_queries"] if "customer_id = $1" in q["query"])
    assert row["calls"] == 8 and row["interval"]["calls"] == 5 and row["interval"]["total_ms"] > 0


@pytest.mark.django_db
def test_pool_sizing_advice_from_observed_concurrency():
    pool = {"min_size": 2, "max_size": 40, "pool_size": 5, "pool_available": 4, "requests_waiting": 0,
            "requests_queued": 0}
    big = findings.pool_findings("default", pool, {"max_connections": 100}, peak_active=3)
    assert big and "larger than needed" in big[0].title
    starved = findings.pool_findings("default", {**pool, "max_size": 4, "pool_available": 0, "requests_waiting": 6},
                                     {"max_connections": 100}, peak_active=4)
    assert "too small" in starved[0].title
    none = findings.pool_findings("default", None, {"max_connections": 100}, peak_active=25)
    assert "DATABASE_POOL_MAX_SIZE to about 27" in none[0].detail
    assert findings.pool_findings("default", pool, {}, peak_active=19) == []
    busy = findings.pool_findings("default", {**pool, "max_size": 10, "pool_size": 10, "pool_available": 1},
                                  {}, peak_active=9)
    assert "90% in use" in busy[0].title


@pytest.mark.django_db(transaction=True)
def test_collect_task_runs_on_a_real_worker(tmp_path):
    need_postgres()
    need_redis()
    from config.celery import app

    worker = start_worker(tmp_path, child_env(), "dbopt-test", "dbopt-collect")
    try:
        app.send_task("dbopt.tasks.collect_databases_task", queue="dbopt-test")
        wait_until(lambda: MonitoredDatabase.objects.filter(name="default", status="up",
                                                            last_collected_at__isnull=False).exists(),
                   40, message="the worker's collection of the default database")
        db = MonitoredDatabase.objects.get(name="default")
        assert set(db.snapshots.values_list("kind", flat=True)) >= {"tables", "indexes", "statements", "locks"}
    finally:
        worker.stop()


def test_pool_usage_is_read_from_a_real_django_pool(orders):
    from django.db import connection
    from django.db.utils import ConnectionHandler

    from dbopt import collectors

    pooled = {**connection.settings_dict, "CONN_MAX_AGE": 0,
              "OPTIONS": {**connection.settings_dict.get("OPTIONS", {}), "pool": {"min_size": 1, "max_size": 4}}}
    handler = ConnectionHandler({"default": pooled})
    wrapper = handler["default"]
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
            usage = collectors.pool_usage(wrapper)
        assert usage["max_size"] == 4 and usage["min_size"] == 1 and usage["pool_size"] >= 1
        assert collectors.pool_usage(connection) is None  # this connection has no pool
    finally:
        wrapper.close()  # back to the pool, then the pool and its connections closed
        wrapper.close_pool()


@override_settings(DBOPT={"AUTO_MAINTENANCE": False})
def test_automatic_maintenance_can_be_switched_off(orders):
    from dbopt.tasks import run_maintenance_task

    assert run_maintenance_task() == ["automatic maintenance is off (DBOPT AUTO_MAINTENANCE)"]
    assert not AuditRecord.objects.filter(action__startswith="dbopt.").exists()


@override_settings(DBOPT={"ADVISE_MIN_CALLS": 2})
def test_findings_task_covers_every_database_and_survives_one_down(orders):
    from dbopt.tasks import refresh_findings_task

    MonitoredDatabase.objects.create(name="gone", url="postgresql://u:pw@127.0.0.1:1/gone")
    results = refresh_findings_task()
    assert [r["database"] for r in results] == ["default"]
    assert MonitoredDatabase.objects.get(name="gone").status == "down"
