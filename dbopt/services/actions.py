"""The actions: build, drop and reindex an index, vacuum and analyze a table; each one audited
function, safe to call twice. Plan analysis and automatic maintenance call them too."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pglast
import psycopg
from django.utils import timezone
from psycopg import sql

from perfmon.audit import audited

from .. import collectors, findings
from ..advisor.catalog import covering_index, existing_from_rows
from ..advisor.spec import IndexSpec
from ..conf import dbopt_settings
from ..connections import connect, scrub
from ..errors import ActionFailed, DboptError, UnknownObject
from ..models import Finding, MonitoredDatabase
from .advice import latest_snapshots, samples_for
from .collection import collect_database
from .databases import ensure_databases, get_database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ActionResult:
    action: str
    database: str
    target: str
    result: str  # ok, noop
    message: str
    audit_id: int
    details: dict[str, Any] = field(default_factory=dict)


def _qualified(schema: str, name: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))


def _index_row(conn, schema: str, index: str) -> dict | None:
    row = conn.execute("""
        SELECT i.indisvalid, coalesce(con.contype::text, ''), i.indisunique, i.indisprimary, t.relname,
               pg_get_indexdef(c.oid)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_index i ON i.indexrelid = c.oid
        JOIN pg_class t ON t.oid = i.indrelid
        LEFT JOIN pg_constraint con ON con.conindid = c.oid AND con.contype IN ('p', 'u', 'x')
        WHERE n.nspname = %s AND c.relname = %s AND c.relkind = 'i'""", (schema, index)).fetchone()
    if row is None:
        return None
    return {"valid": row[0], "constraint": row[1], "unique": row[2], "primary": row[3], "table": row[4],
            "definition": row[5]}


def _table_exists(conn, schema: str, table: str) -> bool:
    return conn.execute("""SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p', 'm')""", (schema, table)).fetchone() is not None


def _lock_timeout(conn) -> None:
    conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(int(dbopt_settings.LOCK_TIMEOUT_MS))))
    conn.execute("SET statement_timeout = 0")


def _result(action: str, db, target: str, audit, message: str, **details) -> ActionResult:
    return ActionResult(action, db.name, target, "noop" if audit.noop else "ok", message, audit.record.pk, details)


def build_index(*, database: str, spec: IndexSpec | dict, name: str = "", actor: Any, reason: str) -> ActionResult:
    """CREATE INDEX CONCURRENTLY (with lock_timeout). A no-op when an index with the same
    keys and condition exists; an invalid leftover of an earlier failed build under the
    same name is dropped first, and one left by this build's failure is dropped before
    the error is raised: nothing half-made stays behind."""
    db = get_database(database)
    spec = spec if isinstance(spec, IndexSpec) else IndexSpec.from_params(spec)
    name = name or spec.default_name()
    with audited("dbopt.build_index", actor=actor, reason=reason, target=f"{db.name}:{spec.label}"[:255],
                 before={"index": name, "spec": spec.to_params()}) as audit, connect(db) as conn:
        if not _table_exists(conn, spec.schema, spec.table):
            raise UnknownObject(f"table {spec.schema}.{spec.table} does not exist in {db.name}")
        columns = {r[0] for r in conn.execute("""SELECT attname FROM pg_attribute
            WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped""",
                                               (_qualified(spec.schema, spec.table).as_string(conn),))}
        missing = sorted(({k.column for k in spec.keys} | {c.column for c in spec.where}) - columns)
        if missing:
            raise UnknownObject(f"table {spec.schema}.{spec.table} has no column {', '.join(missing)}")
        same = covering_index(spec, existing_from_rows([r for r in collectors.indexes(conn)
                                                        if (r["schema"], r["table"]) == (spec.schema, spec.table)]), conn)
        if same is not None:
            audit.mark_noop(message=f"already served by index {same.name}")
            _resolve_missing(db, spec)
            return _result("build_index", db, spec.label, audit, f"already served by index {same.name}", index=same.name)
        leftover = _index_row(conn, spec.schema, name)
        if leftover and not leftover["valid"]:
            conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(_qualified(spec.schema, name)))
        _lock_timeout(conn)
        statement = spec.create_sql(name=name, concurrently=True)
        try:
            conn.execute(statement)
        except psycopg.Error as exc:
            left = _drop_invalid(conn, spec.schema, name)
            raise ActionFailed(f"building index {name} on {spec.schema}.{spec.table} failed: {scrub(exc, db)}; "
                               + ("no index was left behind" if not left else
                                  f"the invalid leftover could not be dropped ({left}): it is reported as an "
                                  "invalid index finding to drop later")) from None
        audit.set_after(index=name, sql=statement.as_string(conn), definition=_index_row(conn, spec.schema, name)["definition"])
    _resolve_missing(db, spec)
    return _result("build_index", db, spec.label, audit, f"built index {name}", index=name)


def _drop_invalid(conn, schema: str, name: str) -> str:
    """Drop the invalid index a failed concurrent build left. It must wait for the same
    transactions the build waited for, so it gets a longer lock timeout. Returns '' when
    nothing is left, else why it could not be dropped."""
    row = _index_row(conn, schema, name)
    if not row or row["valid"]:
        return ""
    conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(int(dbopt_settings.CLEANUP_LOCK_TIMEOUT_MS))))
    try:
        conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(_qualified(schema, name)))
        return ""
    except psycopg.Error as exc:
        log.warning("dbopt: could not drop invalid index %s.%s after a failed build: %s", schema, name, exc)
        return str(exc).strip()


def _resolve_missing(db: MonitoredDatabase, spec: IndexSpec) -> None:
    if db.pk is not None:
        Finding.objects.filter(database=db, kind=Finding.Kind.MISSING_INDEX, subject=spec.label,
                               status=Finding.Status.OPEN).update(status=Finding.Status.RESOLVED,
                                                                  resolved_at=timezone.now())


def drop_index(*, database: str, schema: str, index: str, actor: Any, reason: str) -> ActionResult:
    """DROP INDEX CONCURRENTLY. Refuses an index that backs a primary key, unique or
    exclusion constraint; dropping one already gone is a no-op."""
    db = get_database(database)
    with audited("dbopt.drop_index", actor=actor, reason=reason, target=f"{db.name}:{schema}.{index}"[:255]) as audit, \
            connect(db) as conn:
        row = _index_row(conn, schema, index)
        if row is None:
            audit.mark_noop(message="no such index (already dropped?)")
            return _result("drop_index", db, f"{schema}.{index}", audit, f"index {schema}.{index} does not exist")
        if row["constraint"] or row["primary"]:
            raise DboptError(f"index {schema}.{index} backs a {'primary key' if row['primary'] else 'constraint'}: "
                             "drop the constraint instead, if that is really meant")
        if row["unique"] and row["valid"]:
            raise DboptError(f"index {schema}.{index} is unique: it enforces uniqueness, so dbopt does not drop it")
        audit.record.before = {"definition": row["definition"]}
        audit.record.save(update_fields=["before"])
        _lock_timeout(conn)
        try:
            conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(_qualified(schema, index)))
        except psycopg.Error as exc:
            raise ActionFailed(f"dropping index {schema}.{index} failed: {scrub(exc, db)}") from None
        audit.set_after(dropped=row["definition"])
    _resolve_subject(db, f"{schema}.{index}", ("unused_index", "duplicate_index", "invalid_index", "bloated_index"))
    return _result("drop_index", db, f"{schema}.{index}", audit, f"dropped index {schema}.{index}",
                   definition=row["definition"])


def _resolve_subject(db, subject: str, kinds: tuple[str, ...]) -> None:
    if db.pk is not None:
        Finding.objects.filter(database=db, subject=subject, kind__in=kinds, status=Finding.Status.OPEN).update(
            status=Finding.Status.RESOLVED, resolved_at=timezone.now())


def _table_stats(conn, schema: str, table: str) -> dict:
    row = conn.execute("""SELECT n_live_tup, n_dead_tup, n_mod_since_analyze, last_vacuum, last_analyze
        FROM pg_stat_user_tables WHERE schemaname = %s AND relname = %s""", (schema, table)).fetchone()
    return {} if row is None else {"n_live_tup": row[0], "n_dead_tup": row[1], "n_mod_since_analyze": row[2],
                                   "last_vacuum": str(row[3] or ""), "last_analyze": str(row[4] or "")}


def vacuum_table(*, database: str, schema: str, table: str, analyze: bool = True, actor: Any,
                 reason: str) -> ActionResult:
    """VACUUM (ANALYZE) one table. Repeating it is harmless (the second finds little to do)."""
    return _maintain("vacuum_table", sql.SQL("VACUUM (ANALYZE)" if analyze else "VACUUM"), database, schema, table,
                     actor, reason, ("needs_vacuum", "bloated_table") + (("needs_analyze",) if analyze else ()))


def analyze_table(*, database: str, schema: str, table: str, actor: Any, reason: str) -> ActionResult:
    """ANALYZE one table, refreshing the planner's statistics."""
    return _maintain("analyze_table", sql.SQL("ANALYZE"), database, schema, table, actor, reason, ("needs_analyze",))


def _maintain(action: str, verb: sql.SQL, database: str, schema: str, table: str, actor, reason,
              kinds: tuple[str, ...]) -> ActionResult:
    db = get_database(database)
    with audited(f"dbopt.{action}", actor=actor, reason=reason, target=f"{db.name}:{schema}.{table}"[:255]) as audit, \
            connect(db) as conn:
        if not _table_exists(conn, schema, table):
            raise UnknownObject(f"table {schema}.{table} does not exist in {db.name}")
        before = _table_stats(conn, schema, table)
        audit.record.before = before
        audit.record.save(update_fields=["before"])
        _lock_timeout(conn)
        try:
            conn.execute(sql.SQL("{} {}").format(verb, _qualified(schema, table)))
        except psycopg.Error as exc:
            raise ActionFailed(f"{action} on {schema}.{table} failed: {scrub(exc, db)}") from None
        after = _table_stats(conn, schema, table)
        audit.set_after(**after)
    _resolve_subject(db, f"{schema}.{table}", kinds)
    return _result(action, db, f"{schema}.{table}", audit, f"{verb.as_string(None)} {schema}.{table}: dead tuples "
                   f"{before.get('n_dead_tup')} -> {after.get('n_dead_tup')}", before=before, after=after)


def reindex_index(*, database: str, schema: str, index: str, actor: Any, reason: str) -> ActionResult:
    """REINDEX INDEX CONCURRENTLY: rebuilds a bloated or invalid index without blocking writes."""
    db = get_database(database)
    with audited("dbopt.reindex_index", actor=actor, reason=reason, target=f"{db.name}:{schema}.{index}"[:255]) as audit, \
            connect(db) as conn:
        row = _index_row(conn, schema, index)
        if row is None:
            raise UnknownObject(f"index {schema}.{index} does not exist in {db.name}")
        before = conn.execute("SELECT pg_relation_size(to_regclass(%s))",
                              (_qualified(schema, index).as_string(conn),)).fetchone()[0]
        _lock_timeout(conn)
        try:
            conn.execute(sql.SQL("REINDEX INDEX CONCURRENTLY {}").format(_qualified(schema, index)))
        except psycopg.Error as exc:
            # A failed concurrent reindex leaves <name>_ccnew behind, invalid: remove it.
            _drop_invalid(conn, schema, f"{index}_ccnew")
            raise ActionFailed(f"reindexing {schema}.{index} failed: {scrub(exc, db)}") from None
        after = conn.execute("SELECT pg_relation_size(to_regclass(%s))",
                             (_qualified(schema, index).as_string(conn),)).fetchone()[0]
        audit.set_after(bytes_before=before, bytes_after=after)
    _resolve_subject(db, f"{schema}.{index}", ("bloated_index", "invalid_index"))
    return _result("reindex_index", db, f"{schema}.{index}", audit, f"reindexed {schema}.{index}: {before} -> {after} bytes",
                   bytes_before=before, bytes_after=after)


ACTIONS = {"build_index", "drop_index", "vacuum_table", "analyze_table", "reindex_index"}


def _dispatch():
    return {"build_index": build_index, "drop_index": drop_index, "vacuum_table": vacuum_table,
            "analyze_table": analyze_table, "reindex_index": reindex_index}


def act_on_finding(*, finding_id: int, actor: Any, reason: str) -> ActionResult:
    """Apply the action a finding carries (build, drop, vacuum, analyze, reindex)."""
    finding = Finding.objects.select_related("database").filter(pk=finding_id).first()
    if finding is None:
        raise UnknownObject(f"no finding {finding_id}")
    if finding.action not in ACTIONS:
        raise DboptError(f"finding {finding_id} ({finding.kind}) has no action to apply")
    params = dict(finding.action_params)
    func = _dispatch()[finding.action]
    return func(database=finding.database.name, actor=actor, reason=reason or f"finding {finding_id}: {finding.title}",
                **params)


def explain_query(*, database: str, queryid: str, analyze: bool = False, actor: Any = None):
    """Plan analysis of a query from pg_stat_statements, with a real sample's values when
    one was seen (EXPLAIN ANALYZE needs one), else the generic plan."""
    from ..advisor.parse import analyze as analyze_shape
    from ..plans import explain

    db = get_database(database)
    with connect(db) as conn:
        row = conn.execute("""SELECT query FROM pg_stat_statements WHERE queryid::text = %s
            AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1""",
                           (str(queryid),)).fetchone()
        if row is None:
            raise UnknownObject(f"no statement with queryid {queryid} in {db.name}")
        query = row[0]
        samples = samples_for(db).get(pglast.fingerprint(query), [])
        if samples:
            return explain(conn, samples[0], analyze=analyze, source="sample")
        shape = analyze_shape(query)
        return explain(conn, query, params=shape.param_count if shape else 0, analyze=analyze, source="generic")


def run_maintenance(*, database: str | None = None, actor: Any = "dbopt.maintain", reason: str = "",
                    dry_run: bool = False) -> list[ActionResult | str]:
    """VACUUM / ANALYZE the tables past the thresholds (after a fresh collection)."""
    dbs = [get_database(database)] if database else [d for d in ensure_databases() if d.enabled]
    out: list[ActionResult | str] = []
    for db in dbs:
        collected = collect_database(database=db)
        if collected.status != "up":
            out.append(f"{db.name}: {collected.status} ({collected.detail})")
            continue
        tables = latest_snapshots(db).get("tables", {}).get("rows", [])
        for item in findings.maintenance_findings(tables):
            if dry_run:
                out.append(f"{db.name}: would {item.action} {item.subject} ({item.title})")
                continue
            try:
                out.append(_dispatch()[item.action](database=db.name, actor=actor,
                                                  reason=reason or f"automatic maintenance: {item.title}",
                                                  **item.action_params))
            except DboptError as exc:
                out.append(f"{db.name}: {item.action} {item.subject} failed: {exc.message}")
    return out
