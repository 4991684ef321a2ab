"""Missing-index advice against the real PostgreSQL with pg_stat_statements and hypopg."""
from __future__ import annotations

from django.test import override_settings

from dbopt import services
from dbopt.advisor.spec import IndexSpec
from dbopt.models import Finding
from perfmon.models import AuditRecord

FAST = {"ADVISE_MIN_CALLS": 2, "SLOW_QUERY_MIN_CALLS": 1, "SLOW_QUERY_THRESHOLD_MS": 0.0}


def _workload(scratch, sql: str, values) -> None:
    for value in values:
        scratch.run(sql, (value,)).fetchall()


def _proposals(advice, table):
    return [p for p in advice.proposals if p.spec.table == table]


@override_settings(DBOPT=FAST)
def test_missing_index_is_proposed_with_costs_built_used_and_closed(orders):
    orders.reset_statements()
    _workload(orders, "SELECT id, status FROM S.orders WHERE customer_id = %s", range(1, 30))
    db = services.ensure_databases()[0]
    services.collect_database(database=db)
    result = services.refresh_findings(database=db)
    assert result.opened >= 1
    finding = Finding.objects.get(database=db, kind="missing_index", status="open",
                                  subject=f"{orders.schema}.orders (customer_id)")
    query = finding.evidence["queries"][0]
    assert finding.evidence["proven"] is True
    assert query["cost_after"] < query["cost_before"] * 0.5
    assert "customer_id = $1" in query["query"]
    assert finding.action == "build_index"
    checked = {c["queryid"]: c for c in finding.evidence["set_check"]}
    assert query["queryid"] in checked and all(c["cost_with_set"] <= c["cost_before"] * 1.05 for c in checked.values())
    assert set(finding.evidence["table_writes"]) == {"n_tup_ins", "n_tup_upd", "n_tup_del", "n_live_tup"}

    built = services.act_on_finding(finding_id=finding.pk, actor="test", reason="advice")
    assert built.result == "ok"
    name = built.details["index"]
    assert name in orders.index_names("orders")
    plan = orders.run("EXPLAIN (FORMAT JSON) SELECT id FROM S.orders WHERE customer_id = 7").fetchone()[0]
    assert name in str(plan)
    finding.refresh_from_db()
    assert finding.status == "resolved"
    audit = AuditRecord.objects.get(action="dbopt.build_index", pk=built.audit_id)
    assert audit.result == "ok" and "CONCURRENTLY" in audit.after["sql"]

    # Twice: a no-op; and the next advice run does not propose it again (it is covered now).
    again = services.build_index(database=db.name, spec=IndexSpec.from_params(finding.action_params["spec"]),
                                 actor="test", reason="again")
    assert again.result == "noop"
    with override_settings(DBOPT={**FAST, "UNUSED_INDEX_MIN_BYTES": 0}):
        services.collect_database(database=db)
        services.refresh_findings(database=db)
    assert not Finding.objects.filter(database=db, kind="missing_index", status="open",
                                      subject=f"{orders.schema}.orders (customer_id)").exists()
    # Not scanned yet, but just built by dbopt: not called unused during its grace period.
    assert not Finding.objects.filter(database=db, kind="unused_index", subject=f"{orders.schema}.{name}").exists()


@override_settings(DBOPT=FAST)
def test_unselective_column_gets_no_index(orders):
    orders.reset_statements()
    _workload(orders, "SELECT count(*) FROM S.orders WHERE flag = %s", [0, 1] * 10)
    advice = services.recommend(database="default")
    assert _proposals(advice, "orders") == []
    reasons = [r["reason"] for r in advice.rejected if "flag" in r.get("index", "")]
    assert any("unselective" in r for r in reasons), advice.rejected


@override_settings(DBOPT=FAST)
def test_expression_and_partial_candidates_from_real_samples(orders):
    orders.reset_statements()
    db = services.ensure_databases()[0]
    # Django's iexact: UPPER(col::text) = UPPER(value).
    for i in range(1, 15):
        orders.run("SELECT id FROM S.orders WHERE UPPER(email::text) = UPPER(%s)", (f"USER{i}@EXAMPLE.COM",)).fetchall()
    # A constant filter on a skewed column plus a sort: the real values show status is always 'pending'.
    for _ in range(5):
        orders.run("SELECT id FROM S.orders WHERE status = %s ORDER BY created_at DESC LIMIT 20", ("pending",)).fetchall()
    for _ in range(3):
        services.record_sample(database=db, sql_text=f"SELECT id FROM {orders.schema}.orders WHERE status = 'pending' "
                                                     "ORDER BY created_at DESC LIMIT 20", duration_ms=50)
    advice = services.recommend(database=db)
    labels = [p.spec.label for p in _proposals(advice, "orders")]
    assert f"{orders.schema}.orders (upper(email::text))" in labels, (labels, advice.rejected)
    status = [p for p in _proposals(advice, "orders") if "created_at" in p.spec.label]
    assert status, (labels, advice.rejected)
    # The status value seen is a constant filter on a column of two values: a partial
    # index was among the candidates tried.
    assert f"{orders.schema}.orders (created_at) WHERE status = 'pending'" in advice.tried, advice.tried
    assert status[0].queries[0]["plan_source"] == "samples"
    assert advice.regression_checked >= 2


@override_settings(DBOPT={**FAST, "CREATE_EXTENSIONS": False})
def test_without_hypopg_advice_is_marked_unproven(orders):
    orders.run("DROP EXTENSION hypopg")
    try:
        orders.reset_statements()
        _workload(orders, "SELECT id FROM S.orders WHERE customer_id = %s", range(1, 10))
        advice = services.recommend(database="default")
        assert advice.hypopg is False and "hypopg is not installed" in advice.notes[0]
        props = _proposals(advice, "orders")
        assert props and all(not p.proven for p in props)
    finally:
        orders.run("CREATE EXTENSION IF NOT EXISTS hypopg")


@override_settings(DBOPT=FAST)
def test_existing_index_is_never_proposed_again(orders):
    orders.run("CREATE INDEX orders_cust_created ON S.orders (customer_id, created_at)")
    orders.run("ANALYZE S.orders")
    orders.reset_statements()
    _workload(orders, "SELECT id FROM S.orders WHERE customer_id = %s", range(1, 10))
    advice = services.recommend(database="default")
    assert _proposals(advice, "orders") == []
    assert any("already covered by index orders_cust_created" in r["reason"] for r in advice.rejected)


def test_samples_keep_long_statements_and_ignore_placeholders(orders):
    from dbopt.models import QuerySample

    db = services.ensure_databases()[0]
    long_sql = (f"SELECT id FROM {orders.schema}.orders WHERE customer_id IN ("
                + ", ".join(str(i) for i in range(1500)) + ")")  # ~7 kB: past what a btree entry holds
    assert services.record_sample(database=db, sql_text=long_sql, duration_ms=900)
    assert services.record_sample(database=db, sql_text=long_sql, duration_ms=950)  # same statement: one row
    assert not services.record_sample(database=db, sql_text="SELECT 1 FROM t WHERE a = $1", duration_ms=5)
    assert not services.record_sample(database=db, sql_text="SELECT 1; SELECT 2", duration_ms=5)
    assert QuerySample.objects.get(database=db).duration_ms == 950


@override_settings(DBOPT=FAST)
def test_join_columns_get_candidates(orders):
    orders.run("CREATE TABLE S.customers (id int PRIMARY KEY, email text NOT NULL)")
    orders.run("INSERT INTO S.customers SELECT g, 'c' || g || '@example.com' FROM generate_series(0, 4999) g")
    orders.run("ANALYZE S.customers")
    orders.reset_statements()
    for i in range(1, 12):
        orders.run("SELECT o.id FROM S.orders o JOIN S.customers c ON c.id = o.customer_id WHERE c.email = %s",
                   (f"c{i}@example.com",)).fetchall()
    advice = services.recommend(database="default")
    labels = {p.spec.label for p in advice.proposals}
    # Both sides of the join: the email lookup, then the join column with it in place.
    assert {f"{orders.schema}.customers (email)", f"{orders.schema}.orders (customer_id)"} <= labels, \
        (labels, advice.rejected)
