"""A Celery worker killed with kill -9 while it builds an index: the build it started is
left INVALID by PostgreSQL; the broker hands the task to the next worker, which drops the
leftover and builds the index once. One valid index, nothing half-made."""
import os
import signal
import uuid

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from dbopt.advisor.spec import IndexSpec, Key
from dbopt.models import Finding
from dbopt.services import ensure_databases
from dbopt.tasks import act_on_finding_task
from perfmon.models import AuditRecord
from tests.support import child_env, need_postgres, need_redis, start_worker, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _conn(**kwargs) -> psycopg.Connection:
    s = connection.settings_dict
    return psycopg.connect(dbname=s["NAME"], user=s.get("USER") or None, host=s.get("HOST") or None,
                           port=s.get("PORT") or None, **kwargs)


def _building(admin: psycopg.Connection, table: str) -> bool:
    return bool(admin.execute("""SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
        AND query ILIKE 'CREATE INDEX CONCURRENTLY%%' AND query LIKE %s""", (f"%{table}%",)).fetchone())


def _indexes(admin: psycopg.Connection, schema: str) -> list[tuple[str, bool]]:
    return [tuple(r) for r in admin.execute("""SELECT c.relname, i.indisvalid FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s ORDER BY 1""", (schema,))]


def test_index_build_on_a_killed_worker_is_completed_once_by_the_next(tmp_path):
    need_postgres()
    need_redis()
    schema = f"faults_{uuid.uuid4().hex[:8]}"
    admin = _conn(autocommit=True)
    admin.execute(f"CREATE SCHEMA {schema}")
    admin.execute(f"CREATE TABLE {schema}.orders (id serial PRIMARY KEY, customer_id int, note text)")
    admin.execute(f"INSERT INTO {schema}.orders (customer_id) SELECT g % 1000 FROM generate_series(1, 20000) g")
    [db] = [d for d in ensure_databases() if d.name == "default"]
    spec = IndexSpec(schema, "orders", (Key("customer_id"),))
    finding = Finding.objects.create(database=db, kind="missing_index", subject=spec.label, title="missing index",
                                     first_seen_at=timezone.now(), last_seen_at=timezone.now(),
                                     action="build_index", action_params={"spec": spec.to_params()})
    queue = f"faults-idx-{schema}"
    env = child_env(CELERY_VISIBILITY_TIMEOUT="4", CELERY_DEFAULT_QUEUE=queue, DBOPT_LOCK_TIMEOUT_MS="3000")
    holder = _conn()  # an open writing transaction: CREATE INDEX CONCURRENTLY waits for it
    holder.execute(f"UPDATE {schema}.orders SET note = 'held' WHERE id = 1")
    first = start_worker(tmp_path, env, queue, f"w1-{schema}")
    second = None
    try:
        result = act_on_finding_task.apply_async(args=[finding.pk, "fault test: worker killed mid-build"],
                                                 queue=queue)
        wait_until(lambda: _building(admin, "orders"), 30, message="the first worker's build to be waiting")
        os.kill(first.proc.pid, signal.SIGKILL)
        first.proc.wait(10)
        # The orphaned build gives up at its lock timeout and leaves its INVALID index behind.
        wait_until(lambda: not _building(admin, "orders"), 30, message="the orphaned build to time out")
        holder.rollback()
        assert any(not valid for _, valid in _indexes(admin, schema))

        second = start_worker(tmp_path, env, queue, f"w2-{schema}")
        wait_until(lambda: f"{result.id}] succeeded" in second.output(), 60, message="the redelivered build")
        indexes = _indexes(admin, schema)
        assert [valid for _, valid in indexes] == [True, True], indexes  # the primary key and the new index
        assert len([name for name, _ in indexes if name != "orders_pkey"]) == 1
        audits = list(AuditRecord.objects.filter(action="dbopt.build_index").values_list("result", flat=True))
        assert sorted(audits) == ["ok", "started"]  # the killed attempt never finished; the second built it
    finally:
        holder.close()
        for worker in (first, second):
            if worker is not None:
                worker.stop()
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()
