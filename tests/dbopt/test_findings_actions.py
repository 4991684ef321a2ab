"""Index and maintenance findings, and the actions that fix them, on the real PostgreSQL."""
from __future__ import annotations

import threading

import psycopg
import pytest
from django.test import override_settings

from dbopt import services
from dbopt.advisor.spec import IndexSpec, Key
from dbopt.errors import ActionFailed, DboptError, UnknownDatabase, UnknownObject
from dbopt.models import Finding, MonitoredDatabase
from perfmon.models import AuditRecord

from .conftest import _conninfo

SMALL = {"UNUSED_INDEX_MIN_BYTES": 0, "VACUUM_MIN_DEAD_TUPLES": 100, "LOCK_TIMEOUT_MS": 300}


def _open(db, kind, schema):
    return {f.subject.split(".", 1)[1]: f for f in Finding.objects.filter(database=db, kind=kind, status="open",
                                                                          subject__startswith=schema + ".")}


@override_settings(DBOPT=SMALL)
def test_unused_duplicate_and_invalid_indexes_found_constraint_backing_never(orders):
    s = orders
    s.run("CREATE INDEX orders_status ON S.orders (status)")
    s.run("CREATE INDEX orders_status_twin ON S.orders (status)")
    s.run("CREATE INDEX orders_status_created ON S.orders (status, created_at)")
    s.run("ALTER TABLE S.orders ADD CONSTRAINT orders_email_key UNIQUE (email)")
    s.run("CREATE INDEX orders_email_plain ON S.orders (email)")  # prefix-equal to the unique one: redundant
    with pytest.raises(psycopg.Error):
        s.run("CREATE UNIQUE INDEX CONCURRENTLY orders_flag_unique ON S.orders (flag)")  # fails: leaves it invalid
    db = services.ensure_databases()[0]
    services.collect_database(database=db)
    services.refresh_findings(database=db, with_advice=False)

    unused = _open(db, "unused_index", s.schema)
    assert {"orders_status", "orders_status_twin", "orders_status_created", "orders_email_plain"} <= set(unused)
    assert "orders_pkey" not in unused and "orders_email_key" not in unused
    assert unused["orders_status"].evidence["idx_scan"] == 0 and "stats_age_days" in unused["orders_status"].evidence
    dups = _open(db, "duplicate_index", s.schema)
    assert {"orders_status", "orders_email_plain"} <= set(dups)
    assert "orders_status_created" not in dups and "orders_email_key" not in dups and "orders_pkey" not in dups
    invalid = _open(db, "invalid_index", s.schema)
    assert set(invalid) == {"orders_flag_unique"}

    # Dropping the invalid leftover through its finding, twice: one effect.
    first = services.act_on_finding(finding_id=invalid["orders_flag_unique"].pk, actor="test", reason="cleanup")
    second = services.drop_index(database=db.name, schema=s.schema, index="orders_flag_unique", actor="test",
                                 reason="again")
    assert (first.result, second.result) == ("ok", "noop")
    assert "orders_flag_unique" not in s.index_names("orders")
    assert Finding.objects.get(pk=invalid["orders_flag_unique"].pk).status == "resolved"

    # A constraint-backing index is refused, and nothing changes.
    with pytest.raises(DboptError, match="backs a"):
        services.drop_index(database=db.name, schema=s.schema, index="orders_email_key", actor="test", reason="no")
    s.run("CREATE UNIQUE INDEX orders_id_note ON S.orders (id, note)")
    with pytest.raises(DboptError, match="enforces uniqueness"):
        services.drop_index(database=db.name, schema=s.schema, index="orders_id_note", actor="test", reason="no")
    assert "orders_email_key" in s.index_names("orders")
    assert AuditRecord.objects.filter(action="dbopt.drop_index", result="failed").count() == 2
    assert {"orders_email_key", "orders_id_note"} <= s.index_names("orders")


@override_settings(DBOPT=SMALL)
def test_table_with_many_dead_tuples_is_found_and_vacuumed(orders):
    s = orders
    s.run("DELETE FROM S.orders WHERE id % 2 = 0")  # 25 000 dead tuples
    db = services.ensure_databases()[0]
    from tests.support import wait_until

    def dead_seen():
        services.collect_database(database=db)
        services.refresh_findings(database=db, with_advice=False)
        return _open(db, "needs_vacuum", s.schema).get("orders")

    finding = wait_until(dead_seen, 15, interval=0.5, message="dead tuples in pg_stat_user_tables")
    assert finding.evidence["n_dead_tup"] >= 20000 and finding.action == "vacuum_table"
    result = services.act_on_finding(finding_id=finding.pk, actor="test", reason="dead tuples")
    assert result.result == "ok"
    assert result.details["after"]["n_dead_tup"] < 1000
    audit = AuditRecord.objects.get(pk=result.audit_id)
    assert audit.action == "dbopt.vacuum_table" and audit.before["n_dead_tup"] >= 20000
    finding.refresh_from_db()
    assert finding.status == "resolved"
    services.collect_database(database=db)
    services.refresh_findings(database=db, with_advice=False)
    assert "orders" not in _open(db, "needs_vacuum", s.schema)


@override_settings(DBOPT=SMALL)
def test_failed_index_build_leaves_nothing_behind(orders):
    s = orders
    holder = psycopg.connect(**_conninfo())  # an open writing transaction: CONCURRENTLY must wait for it
    try:
        holder.execute(f"UPDATE {s.schema}.orders SET note = 'held' WHERE id = 1")
        spec = IndexSpec(s.schema, "orders", (Key("customer_id"),))
        # The writer finishes a little later (as a real one would): the build has timed out
        # by then, and its invalid leftover is dropped once the writer is gone.
        release = threading.Timer(1.5, holder.rollback)
        release.start()
        with pytest.raises(ActionFailed, match="no index was left behind"):
            services.build_index(database="default", spec=spec, actor="test", reason="will time out")
        release.join()
    finally:
        holder.close()
    assert s.index_names("orders") == {"orders_pkey"}
    audit = AuditRecord.objects.get(action="dbopt.build_index")
    assert audit.result == "failed" and "lock timeout" in audit.error


def test_bad_input_gives_clear_errors_and_changes_nothing(orders):
    s = orders
    with pytest.raises(UnknownDatabase, match="unknown database 'nope'"):
        services.get_database("nope")
    with pytest.raises(UnknownObject, match="does not exist"):
        services.vacuum_table(database="default", schema=s.schema, table="gone", actor="test", reason="x")
    with pytest.raises(UnknownObject, match="has no column"):
        services.build_index(database="default", spec=IndexSpec(s.schema, "orders", (Key("nope"),)), actor="t",
                             reason="x")
    with pytest.raises(DboptError, match="may use"):
        IndexSpec.from_params({"schema": s.schema, "table": "orders",
                               "keys": [{"column": "email", "function": "pg_sleep"}]})
    with pytest.raises(UnknownObject):
        services.reindex_index(database="default", schema=s.schema, index="gone_idx", actor="t", reason="x")
    assert s.index_names("orders") == {"orders_pkey"}


def test_unreachable_database_is_marked_down_and_others_still_collect(orders, caplog):
    caplog.set_level("DEBUG")
    services.ensure_databases()
    down = MonitoredDatabase.objects.create(name="elsewhere", url="postgresql://app:s3cret-pw@127.0.0.1:1/app")
    results = {r.database: r for r in services.collect_all()}
    assert results["elsewhere"].status == "down" and results["default"].status == "up"
    down.refresh_from_db()
    assert down.status == "down" and "unreachable" in down.status_detail
    assert "s3cret-pw" not in down.status_detail and "s3cret-pw" not in down.display_target
    assert down.display_target == "postgresql://app:***@127.0.0.1:1/app"
    assert "unreachable" in caplog.text and "s3cret-pw" not in caplog.text


def test_identifiers_are_quoted(orders):
    s = orders
    s.run('CREATE TABLE S."Odd Name; DROP TABLE x" (id int, "Weird Col" int)')
    s.run('INSERT INTO S."Odd Name; DROP TABLE x" SELECT g, g FROM generate_series(1, 100) g')
    result = services.build_index(database="default", actor="t", reason="quoted",
                                  spec=IndexSpec(s.schema, "Odd Name; DROP TABLE x", (Key("Weird Col"),)))
    assert result.result == "ok"
    assert result.details["index"] in s.index_names("Odd Name; DROP TABLE x")
    services.vacuum_table(database="default", schema=s.schema, table="Odd Name; DROP TABLE x", actor="t", reason="q")


@override_settings(DBOPT={**SMALL, "BLOAT_MIN_BYTES": 0, "BLOAT_MIN_SHARE": 0.5})
def test_bloated_table_and_index_are_estimated(orders):
    s = orders
    s.run("CREATE INDEX orders_created ON S.orders (created_at)")
    s.run("DELETE FROM S.orders WHERE id % 10 <> 0")  # 90 % gone; the pages stay allocated
    s.run("VACUUM ANALYZE S.orders")                 # live row count and pages known; no space returned
    db = services.ensure_databases()[0]
    services.collect_database(database=db)
    services.refresh_findings(database=db, with_advice=False)
    table = _open(db, "bloated_table", s.schema)["orders"]
    assert table.evidence["bloat_share"] >= 0.8 and table.action == "vacuum_table"
    index = _open(db, "bloated_index", s.schema)["orders_created"]
    assert index.evidence["bloat_share"] >= 0.5 and index.action == "reindex_index"
    result = services.act_on_finding(finding_id=index.pk, actor="test", reason="bloat")
    assert result.details["bytes_after"] < result.details["bytes_before"] / 2
    assert "orders_created" in s.index_names("orders") and "orders_created_ccnew" not in s.index_names("orders")


def test_partial_and_expression_indexes_are_built_from_specs(orders):
    from dbopt.advisor.spec import Cond

    s = orders
    partial = IndexSpec(s.schema, "orders", (Key("created_at"),), (Cond("status", "=", "pending"),
                                                                    Cond("note", "IS NOT NULL")))
    expression = IndexSpec(s.schema, "orders", (Key("email", "upper", "text"),))
    built = [services.build_index(database="default", spec=spec, actor="t", reason="spec") for spec in (partial, expression)]
    defs = {r[0]: r[1] for r in s.run("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s",
                                      (s.schema,))}
    assert "WHERE (((status)::text = 'pending'::text) AND (note IS NOT NULL))" in defs[built[0].details["index"]]
    assert "upper((email)::text)" in defs[built[1].details["index"]]
    again = [services.build_index(database="default", spec=spec, actor="t", reason="again") for spec in (partial, expression)]
    assert [a.result for a in again] == ["noop", "noop"]
