"""API, commands, plans and the live collectors (long queries, lock waits) on the real PostgreSQL."""
from __future__ import annotations

import io
import json
import threading

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings

from dbopt import services
from dbopt.errors import NotReadOnly
from dbopt.models import Finding, QuerySample
from perfmon.models import AuditRecord
from tests.support import wait_until

from .conftest import _conninfo

FAST = {"ADVISE_MIN_CALLS": 2, "SLOW_QUERY_MIN_CALLS": 1, "SLOW_QUERY_THRESHOLD_MS": 0.0,
        "UNUSED_INDEX_MIN_BYTES": 0, "LARGE_TABLE_ROWS": 10_000, "LONG_QUERY_SECONDS": 0.2}


def _workload(s, n=12):
    s.reset_statements()
    for i in range(1, n):
        s.run("SELECT id FROM S.orders WHERE customer_id = %s", (i,)).fetchall()


@override_settings(DBOPT=FAST)
def test_overview_api_and_staff_actions(orders, staff_user, plain_user, django_assert_max_num_queries):
    viewer_client, staff_client = Client(), Client()
    viewer_client.force_login(plain_user)
    staff_client.force_login(staff_user)
    _workload(orders)
    orders.run("CREATE INDEX orders_unused ON S.orders (created_at)")
    db = services.ensure_databases()[0]
    services.collect_database(database=db)
    services.refresh_findings(database=db)

    with django_assert_max_num_queries(13):  # per database a fixed handful, whatever the findings count
        body = viewer_client.get("/api/performance/database?kind=missing_index&kind=unused_index&limit=500").json()
    entry = next(d for d in body["databases"] if d["name"] == "default")
    assert entry["status"] == "up" and entry["supported"] is True and entry["features"]["hypopg"] is True
    assert any("customer_id = $1" in q["query"] for q in entry["top_queries"])
    kinds = {f["kind"] for f in entry["findings"]}
    assert {"missing_index", "unused_index"} <= kinds
    assert "password" not in json.dumps(body).lower()

    unused = Finding.objects.get(database=db, kind="unused_index", subject=f"{orders.schema}.orders_unused")
    assert viewer_client.post(f"/api/performance/database/findings/{unused.pk}/apply",
                              {"reason": "x"}, content_type="application/json").status_code == 403
    response = staff_client.post(f"/api/performance/database/findings/{unused.pk}/apply", {"reason": "unused"},
                                 content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["result"] == "ok" and "orders_unused" not in orders.index_names("orders")

    response = staff_client.post("/api/performance/database/default/vacuum_table",
                                 {"schema": orders.schema, "table": "orders", "reason": "api"},
                                 content_type="application/json")
    assert response.status_code == 200 and response.json()["action"] == "vacuum_table"
    missing = staff_client.post("/api/performance/database/default/vacuum_table",
                                {"schema": orders.schema, "table": "gone", "reason": "api"},
                                content_type="application/json")
    assert missing.status_code == 404 and "does not exist" in missing.json()["error"]["message"]
    bad = staff_client.post("/api/performance/database/default/drop_index", {"schema": orders.schema, "reason": "r"},
                            content_type="application/json")
    assert bad.status_code == 400 and bad.json()["error"]["fields"]["index"]
    assert staff_client.post("/api/performance/database/default/run_sql", {"reason": "r"},
                             content_type="application/json").status_code == 404
    assert staff_client.post("/api/performance/database/nope/vacuum_table",
                             {"table": "orders", "reason": "r"}, content_type="application/json").status_code == 404
    assert AuditRecord.objects.filter(action__startswith="dbopt.", result="ok").count() == 2


@override_settings(DBOPT=FAST)
def test_plan_analysis_flags_and_explain_analyze_rules(orders, staff_user, plain_user):
    viewer_client, staff_client = Client(), Client()
    viewer_client.force_login(plain_user)
    staff_client.force_login(staff_user)
    _workload(orders)
    db = services.ensure_databases()[0]
    services.collect_database(database=db)
    queryid = next(q["queryid"] for q in db.snapshots.get(kind="statements").data["rows"]
                   if "customer_id = $1" in q["query"])
    generic = services.explain_query(database="default", queryid=queryid)
    assert generic.plan_source == "generic" and not generic.analyzed
    assert any(f["flag"] == "seq_scan_large_table" for f in generic.flags)
    with pytest.raises(NotReadOnly, match="no sample"):
        services.explain_query(database="default", queryid=queryid, analyze=True)
    out = io.StringIO()
    call_command("dbopt_explain", "--queryid", queryid, stdout=out)
    assert "plan from generic" in out.getvalue() and "flag=seq_scan_large_table" in out.getvalue()
    with pytest.raises(CommandError, match="no sample"):
        call_command("dbopt_explain", "--queryid", queryid, "--analyze", stdout=io.StringIO())
    with pytest.raises(CommandError, match="no statement with queryid 12345"):
        call_command("dbopt_explain", "--queryid", "12345", stdout=io.StringIO())

    services.record_sample(database=db, sql_text=f"SELECT id FROM {orders.schema}.orders WHERE customer_id = 42",
                           duration_ms=5)
    response = staff_client.post("/api/performance/database/default/explain", {"queryid": queryid, "analyze": True},
                                 content_type="application/json")
    assert response.status_code == 200, response.content
    report = response.json()
    assert report["analyzed"] and report["plan_source"] == "sample" and report["execution_ms"] is not None
    assert viewer_client.post("/api/performance/database/default/explain", {"queryid": queryid},
                              content_type="application/json").status_code == 403

    from dbopt.plans import explain

    with psycopg.connect(autocommit=True, **_conninfo()) as conn:
        with pytest.raises(NotReadOnly, match="only a plain SELECT"):
            explain(conn, f"UPDATE {orders.schema}.orders SET flag = 1 WHERE id = 1", analyze=True)
        with pytest.raises(NotReadOnly):
            explain(conn, f"WITH d AS (DELETE FROM {orders.schema}.orders RETURNING 1) SELECT * FROM d", analyze=True)
        with pytest.raises(NotReadOnly):
            explain(conn, "SELECT 1; DROP TABLE x", analyze=False)
    assert orders.run("SELECT count(*) FROM S.orders").fetchone()[0] == 50000


@override_settings(DBOPT=FAST)
def test_long_queries_lock_waits_and_samples_are_collected(orders):
    db = services.ensure_databases()[0]
    holder = psycopg.connect(**_conninfo())
    waiter = psycopg.connect(autocommit=True, **_conninfo())
    holder.execute(f"LOCK TABLE {orders.schema}.orders IN ACCESS EXCLUSIVE MODE")
    blocked = threading.Thread(target=lambda: waiter.execute(
        f"SELECT count(*) FROM {orders.schema}.orders WHERE status = 'pending'").fetchall())
    blocked.start()
    try:
        def seen():
            services.collect_database(database=db)
            locks = db.snapshots.filter(kind="locks").order_by("-taken_at").first().data["rows"]
            activity = db.snapshots.filter(kind="activity").order_by("-taken_at").first().data["rows"]
            if any("status = 'pending'" in r["query"] for r in activity):  # running past LONG_QUERY_SECONDS
                return [r for r in locks if "status = 'pending'" in r["waiting_query"]]

        rows = wait_until(seen, 15, interval=0.3, message="the blocked query in the lock snapshot")
        assert rows[0]["blocking_pid"] == holder.info.backend_pid
        assert QuerySample.objects.filter(database=db, sql__contains="status = 'pending'").exists()
        services.refresh_findings(database=db, with_advice=False)
        assert Finding.objects.filter(database=db, kind="lock_wait", status="open").exists()
    finally:
        holder.rollback()
        blocked.join(10)
        holder.close()
        waiter.close()


@override_settings(DBOPT=FAST)
def test_commands_report_recommend_and_maintain(orders):
    _workload(orders)
    out = io.StringIO()
    call_command("dbopt_recommend", "--database", "default", "--format", "sql", stdout=out)
    lines = [line for line in out.getvalue().splitlines() if line.startswith("CREATE")]
    assert any('CREATE INDEX CONCURRENTLY' in line and f'"{orders.schema}"."orders" ("customer_id")' in line
               for line in lines), out.getvalue()
    out = io.StringIO()
    call_command("dbopt_recommend", "--database", "default", "--format", "json", stdout=out)
    data = json.loads(out.getvalue())
    prop = next(p for p in data["proposals"] if "customer_id" in p["index"])
    assert prop["proven"] and prop["queries"][0]["cost_after"] < prop["queries"][0]["cost_before"]
    with pytest.raises(CommandError, match="no advice is on this project's own models"):
        call_command("dbopt_recommend", "--database", "default", "--format", "migration", stdout=io.StringIO())
    with pytest.raises(CommandError, match="unknown database 'nope'"):
        call_command("dbopt_recommend", "--database", "nope", stdout=io.StringIO())
    with pytest.raises(CommandError, match="unreachable"):
        call_command("dbopt_recommend", "--database", "postgresql://x:pw@127.0.0.1:1/none", stdout=io.StringIO())

    out = io.StringIO()
    call_command("dbopt_report", "--database", "default", stdout=out)
    text = out.getvalue()
    assert "== default" in text and f"[missing_index] Missing index {orders.schema}.orders (customer_id)" in text

    orders.run("DELETE FROM S.orders WHERE id % 2 = 0")
    with override_settings(DBOPT={**FAST, "VACUUM_MIN_DEAD_TUPLES": 100}):
        def maintained():
            out = io.StringIO()
            call_command("dbopt_maintain", "--database", "default", stdout=out)
            return "VACUUM (ANALYZE)" in out.getvalue() and f"{orders.schema}.orders" in out.getvalue()

        wait_until(maintained, 15, interval=0.5, message="dbopt_maintain vacuuming the table")
    assert AuditRecord.objects.filter(action="dbopt.vacuum_table", actor_label="manage.py", result="ok").exists()


@override_settings(DBOPT=FAST)
def test_migration_format_for_the_projects_own_models(orders):
    from perfmon.models import AuditRecord as Model

    orders.run("INSERT INTO perfmon_auditrecord (action, target, actor_label, reason, before, after, result, error, "
               "created_at) SELECT 'x.y', 'target-' || g, 'a', '', '{}', '{}', 'ok', '', now() "
               "FROM generate_series(1, 20000) g")
    orders.run("ANALYZE perfmon_auditrecord")
    orders.reset_statements()
    for i in range(1, 12):
        orders.run("SELECT id FROM perfmon_auditrecord WHERE target = %s", (f"target-{i}",)).fetchall()
    out = io.StringIO()
    call_command("dbopt_recommend", "--database", "default", "--format", "migration", stdout=out)
    text = out.getvalue()
    assert "AddIndexConcurrently(model_name='auditrecord'" in text and "fields=['target']" in text
    assert "atomic = False" in text and "('perfmon'," in text
    compile(text, "migration.py", "exec")
    assert Model.objects.count() >= 0
