"""dbopt's writes: collect, advise, and the actions (build/drop/reindex an index,
vacuum/analyze a table). Each action is one audited function, safe to call twice;
admin, API, commands and tasks call these and nothing else."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pglast
import psycopg
from django.db import connections, transaction
from django.utils import timezone
from psycopg import sql

from perfmon.audit import audited

from . import collectors, findings
from .advisor.catalog import covering_index, existing_from_rows
from .advisor.engine import Advice, advise
from .advisor.spec import IndexSpec
from .conf import dbopt_settings
from .connections import connect, scrub
from .errors import ActionFailed, DatabaseUnreachable, DboptError, NotPostgres, UnknownDatabase, UnknownObject
from .models import Finding, MonitoredDatabase, QuerySample, Snapshot

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


# -- databases ---------------------------------------------------------------------------

def ensure_databases() -> list[MonitoredDatabase]:
    """The settings aliases in DBOPT["DATABASES"] as monitored databases (created once)."""
    out = []
    for alias in dbopt_settings.DATABASES:
        db, _ = MonitoredDatabase.objects.get_or_create(name=_slug(alias), defaults={"alias": alias})
        out.append(db)
    return out


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)[:63]


def get_database(ref: str) -> MonitoredDatabase:
    """A monitored database by name, a settings alias, or a postgresql:// URL (an
    unsaved one for a URL nobody added). Raises UnknownDatabase."""
    ref = (ref or "").strip()
    if not ref:
        raise UnknownDatabase("name a database: a monitored database, a settings alias or a postgresql:// URL")
    found = MonitoredDatabase.objects.filter(name=ref).first()
    if found:
        return found
    if ref in connections.settings:
        return MonitoredDatabase.objects.filter(alias=ref).first() or \
            MonitoredDatabase.objects.get_or_create(name=_slug(ref), defaults={"alias": ref})[0]
    if "://" in ref:
        from .connections import parse_url

        parse_url(ref)  # clear error for a malformed URL
        return MonitoredDatabase.objects.filter(url=ref).first() or MonitoredDatabase(name="adhoc", url=ref)
    raise UnknownDatabase(f"unknown database {ref!r}: not a monitored database, a settings alias "
                          f"({', '.join(connections.settings)}) or a postgresql:// URL")


def add_database(*, name: str, url: str = "", alias: str = "", actor: Any, reason: str) -> MonitoredDatabase:
    """Monitor another database (by URL or settings alias). Checks it is reachable
    PostgreSQL first; adding the same one twice is a no-op."""
    if bool(url) == bool(alias):
        raise DboptError("give either a URL or a settings alias")
    if alias and alias not in connections.settings:
        raise UnknownDatabase(f"settings.DATABASES has no alias {alias!r}")
    candidate = MonitoredDatabase(name=_slug(name), url=url, alias=alias)
    with audited("dbopt.add_database", actor=actor, reason=reason, target=candidate.name,
                 before={"target": candidate.display_target}) as audit:
        existing = MonitoredDatabase.objects.filter(name=candidate.name).first()
        if existing:
            if (existing.url, existing.alias) != (url, alias):
                raise DboptError(f"a monitored database named {candidate.name} already exists")
            audit.mark_noop(message="already monitored")
            return existing
        with connect(candidate) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
        candidate.server_version, candidate.status = version, MonitoredDatabase.Status.UP
        candidate.save()
        audit.set_after(id=candidate.pk, server_version=version)
        return candidate


# -- collection --------------------------------------------------------------------------

@dataclass(frozen=True)
class CollectResult:
    database: str
    status: str
    detail: str
    kinds: list[str]


def collect_all() -> list[CollectResult]:
    """Collect every enabled database; one that is down is marked down, the others go on."""
    ensure_databases()
    return [collect_database(database=db) for db in MonitoredDatabase.objects.filter(enabled=True)]


def collect_database(*, database: MonitoredDatabase | str) -> CollectResult:
    """Snapshot every statistics view of one database; marks it up, down or unsupported."""
    db = database if isinstance(database, MonitoredDatabase) else get_database(database)
    now = timezone.now()
    try:
        with connect(db) as conn:
            feats = _ensure_extensions(conn, collectors.features(conn))
            conn.execute("SET lock_timeout = '2s'")  # belt and braces: collectors take no relation locks
            data = _collect(conn, db, feats)
    except NotPostgres as exc:
        return _mark(db, MonitoredDatabase.Status.UNSUPPORTED, exc.message, [])
    except DatabaseUnreachable as exc:
        log.warning("dbopt: %s", exc.message)
        return _mark(db, MonitoredDatabase.Status.DOWN, exc.message, [])
    except psycopg.Error as exc:
        message = f"collection failed: {scrub(exc, db)}"
        return _mark(db, MonitoredDatabase.Status.DOWN, message, [])
    if db.pk is None:
        return CollectResult(db.name, "up", "not saved (ad-hoc URL)", sorted(data))
    with transaction.atomic():
        Snapshot.objects.bulk_create([Snapshot(database=db, kind=kind, taken_at=now, data=rows)
                                      for kind, rows in data.items()])
        _store_samples(db, data.get("activity", {}).get("rows", []), now)
        db.features = feats
        db.server_version = str(feats["server_version"])[:32]
        db.last_collected_at = now
        db.save(update_fields=["features", "server_version", "last_collected_at"])
    notes = [] if feats["pg_stat_statements"] else ["pg_stat_statements is not installed: no query statistics"]
    return _mark(db, MonitoredDatabase.Status.UP, "; ".join(notes), sorted(data))


def _ensure_extensions(conn: psycopg.Connection, feats: dict) -> dict:
    if not dbopt_settings.CREATE_EXTENSIONS:
        return feats
    changed = False
    for ext in ("pg_stat_statements", "hypopg"):
        if not feats[ext] and feats[f"{ext}_available"] and (ext != "pg_stat_statements" or feats["pgss_preloaded"]):
            try:
                conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(ext)))
                changed = True
            except psycopg.Error as exc:
                log.info("dbopt: cannot create extension %s: %s", ext, exc)
    return collectors.features(conn) if changed else feats


def _collect(conn: psycopg.Connection, db: MonitoredDatabase, feats: dict) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if feats["pg_stat_statements"]:
        data["statements"] = {"rows": collectors.statements(conn, int(dbopt_settings.TOP_QUERIES))}
    data["tables"] = {"rows": collectors.tables(conn)}
    data["indexes"] = {"rows": collectors.indexes(conn)}
    data["cache"] = collectors.cache(conn)
    data["connections"] = collectors.connection_states(conn)
    # Statements caught running past SAMPLE_MIN_MS become samples (real values for the
    # advisor); those past LONG_QUERY_SECONDS are also reported as long-running.
    data["activity"] = {"rows": collectors.activity(conn, min(float(dbopt_settings.LONG_QUERY_SECONDS),
                                                              float(dbopt_settings.SAMPLE_MIN_MS) / 1000))}
    data["locks"] = {"rows": collectors.lock_waits(conn)}
    data["size"] = collectors.size(conn)
    data["bloat"] = collectors.bloat(conn)
    if db.alias:
        pool = collectors.pool_usage(db.alias)
        if pool is not None:
            data["pool"] = pool
    return data


def _store_samples(db: MonitoredDatabase, rows: list[dict], now) -> None:
    for row in rows:
        if row["seconds"] * 1000 < float(dbopt_settings.SAMPLE_MIN_MS):
            continue
        record_sample(database=db, sql_text=row["query"], duration_ms=row["seconds"] * 1000, source="activity",
                      seen_at=now)


def record_sample(*, database: MonitoredDatabase, sql_text: str, duration_ms: float, source: str = "app",
                  seen_at=None) -> bool:
    """Keep a real statement (with its values) for costing plans; grouped by pglast
    fingerprint. Statements that do not parse as one statement are ignored."""
    from .advisor.parse import parse_one

    if parse_one(sql_text) is None:
        return False
    fp = pglast.fingerprint(sql_text)
    QuerySample.objects.update_or_create(database=database, fingerprint=fp, sql=sql_text[:10000], defaults={
        "duration_ms": duration_ms, "source": source, "seen_at": seen_at or timezone.now()})
    return True


def _mark(db: MonitoredDatabase, status: str, detail: str, kinds: list[str]) -> CollectResult:
    if db.pk is not None:
        MonitoredDatabase.objects.filter(pk=db.pk).update(status=status, status_detail=detail)
        db.status, db.status_detail = status, detail
    return CollectResult(db.name, str(status), detail, kinds)


def prune_snapshots(*, now=None) -> int:
    cutoff = (now or timezone.now()) - timedelta(days=int(dbopt_settings.SNAPSHOT_RETENTION_DAYS))
    deleted, _ = Snapshot.objects.filter(taken_at__lt=cutoff).delete()
    QuerySample.objects.filter(seen_at__lt=cutoff).delete()
    return deleted


# -- advice and findings -----------------------------------------------------------------

def samples_for(db: MonitoredDatabase) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if db.pk is None:
        return out
    for fp, text in QuerySample.objects.filter(database=db).order_by("-duration_ms").values_list("fingerprint", "sql"):
        out.setdefault(fp, []).append(text)
    return out


def recommend(*, database: MonitoredDatabase | str) -> Advice:
    """Live missing-index advice for one database (reads only; hypothetical indexes are
    session-local). Raises NotPostgres / DatabaseUnreachable."""
    db = database if isinstance(database, MonitoredDatabase) else get_database(database)
    with connect(db) as conn:
        feats = _ensure_extensions(conn, collectors.features(conn))
        if not feats["pg_stat_statements"]:
            raise DboptError(f"database {db.name}: pg_stat_statements is not installed, so there is no workload "
                             "to advise on (add it to shared_preload_libraries and CREATE EXTENSION)")
        statements = collectors.statements(conn, int(dbopt_settings.TOP_QUERIES))
        index_rows = collectors.indexes(conn)
        conn.execute("SET default_transaction_read_only = on")
        return advise(conn, statements=statements, samples=samples_for(db), index_rows=index_rows,
                      hypopg=bool(feats["hypopg"]))


@dataclass(frozen=True)
class RefreshResult:
    database: str
    opened: int
    updated: int
    resolved: int
    notes: list[str]


def refresh_findings(*, database: MonitoredDatabase | str, with_advice: bool = True) -> RefreshResult:
    """Judge the latest snapshots (and, with_advice, the live missing-index advice) and
    open, refresh or resolve this database's findings. Running it twice changes nothing."""
    db = database if isinstance(database, MonitoredDatabase) else get_database(database)
    latest = _latest(db)
    found: list[findings.Found] = []
    statements = latest.get("statements", {}).get("rows", [])
    found += findings.slow_queries(statements)
    feats = db.features or {}
    found += findings.index_findings(latest.get("indexes", {}).get("rows", []), feats.get("stats_reset"),
                                     _age_days(feats.get("stats_reset")))
    found += findings.maintenance_findings(latest.get("tables", {}).get("rows", []))
    found += findings.bloat_findings(latest.get("bloat", {}))
    long_running = [r for r in latest.get("activity", {}).get("rows", [])
                    if r["seconds"] >= float(dbopt_settings.LONG_QUERY_SECONDS)]
    found += findings.activity_findings(long_running, latest.get("locks", {}).get("rows", []))
    if db.alias:
        found += findings.pool_findings(db.alias, latest.get("pool"), latest.get("connections", {}),
                                        _peak_active(db))
    notes: list[str] = []
    kinds = {k for k in Finding.Kind.values if k != Finding.Kind.MISSING_INDEX}
    if with_advice and statements:
        advice = recommend(database=db)
        notes += advice.notes
        kinds.add(Finding.Kind.MISSING_INDEX)
        writes = {(t["schema"], t["table"]): {k: t[k] for k in ("n_tup_ins", "n_tup_upd", "n_tup_del", "n_live_tup")}
                  for t in latest.get("tables", {}).get("rows", [])}
        for p in advice.proposals:
            found.append(findings.Found(
                "missing_index", p.spec.label, f"Missing index {p.spec.label}" + ("" if p.proven else " (unproven)"),
                _advice_detail(p), {**p.evidence(), "notes": advice.notes,
                                    "regression_checked": advice.regression_checked,
                                    "set_check": advice.set_check,
                                    # Each index costs every write to its table: the reader weighs this.
                                    "table_writes": writes.get((p.spec.schema, p.spec.table), {})},
                p.benefit_ms, "build_index", {"spec": p.spec.to_params()}))
        MonitoredDatabase.objects.filter(pk=db.pk).update(last_advised_at=timezone.now())
    return _store_findings(db, found, kinds, notes)


def _advice_detail(p) -> str:
    q = p.queries[0]
    if q["cost_after"] is None:
        return f"unproven (no hypopg): planned from the filters of {len(p.queries)} heavy queries"
    return (f"planned cost {q['cost_before']} -> {q['cost_after']} ({q['reduction']:.0%} less) for a query taking "
            f"{q['total_ms']:.0f} ms in total; helps {len(p.queries)} heavy queries")


def _store_findings(db, found: list[findings.Found], kinds: set[str], notes: list[str]) -> RefreshResult:
    now = timezone.now()
    opened = updated = resolved = 0
    with transaction.atomic():
        open_rows = {(f.kind, f.subject): f for f in Finding.objects.select_for_update().filter(
            database=db, status=Finding.Status.OPEN)}
        seen = set()
        for item in found:
            key = (item.kind, item.subject[:255])
            if key in seen:
                continue
            seen.add(key)
            values = {"title": item.title[:255], "detail": item.detail, "evidence": item.evidence,
                      "impact": item.impact, "action": item.action, "action_params": item.action_params,
                      "last_seen_at": now}
            row = open_rows.get(key)
            if row:
                for name, value in values.items():
                    setattr(row, name, value)
                row.save()
                updated += 1
            else:
                Finding.objects.create(database=db, kind=item.kind, subject=item.subject[:255], first_seen_at=now,
                                       **values)
                opened += 1
        for key, row in open_rows.items():
            if key not in seen and row.kind in kinds:
                row.status, row.resolved_at = Finding.Status.RESOLVED, now
                row.save(update_fields=["status", "resolved_at"])
                resolved += 1
    return RefreshResult(db.name, opened, updated, resolved, notes)


def _latest(db: MonitoredDatabase) -> dict[str, Any]:
    out = {}
    for kind in Snapshot.Kind.values:
        snap = Snapshot.objects.filter(database=db, kind=kind).order_by("-taken_at").first()
        if snap:
            out[kind] = snap.data
    return out


def _age_days(stamp: str | None) -> float | None:
    if not stamp:
        return None
    from django.utils.dateparse import parse_datetime

    at = parse_datetime(stamp)
    return round((timezone.now() - at).total_seconds() / 86400, 2) if at else None


def _peak_active(db: MonitoredDatabase) -> int:
    rows = Snapshot.objects.filter(database=db, kind=Snapshot.Kind.CONNECTIONS,
                                   taken_at__gte=timezone.now() - timedelta(days=1)).values_list("data", flat=True)
    return max((int(d.get("by_state", {}).get("active", 0)) for d in rows), default=0)


# -- actions -----------------------------------------------------------------------------

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
        missing = sorted({k.column for k in spec.keys} | {c.column for c in spec.where} - columns)
        missing = [c for c in missing if c not in columns]
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


def act_on_finding(*, finding_id: int, actor: Any, reason: str) -> ActionResult:
    """Apply the action a finding carries (build, drop, vacuum, analyze, reindex)."""
    finding = Finding.objects.select_related("database").filter(pk=finding_id).first()
    if finding is None:
        raise UnknownObject(f"no finding {finding_id}")
    if finding.action not in ACTIONS:
        raise DboptError(f"finding {finding_id} ({finding.kind}) has no action to apply")
    params = dict(finding.action_params)
    func = globals()[finding.action]
    return func(database=finding.database.name, actor=actor, reason=reason or f"finding {finding_id}: {finding.title}",
                **params)


def explain_query(*, database: str, queryid: str, analyze: bool = False, actor: Any = None):
    """Plan analysis of a query from pg_stat_statements, with a real sample's values when
    one was seen (EXPLAIN ANALYZE needs one), else the generic plan."""
    from .advisor.parse import analyze as analyze_shape
    from .plans import explain

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
        tables = _latest(db).get("tables", {}).get("rows", [])
        for item in findings.maintenance_findings(tables):
            if dry_run:
                out.append(f"{db.name}: would {item.action} {item.subject} ({item.title})")
                continue
            try:
                out.append(globals()[item.action](database=db.name, actor=actor,
                                                  reason=reason or f"automatic maintenance: {item.title}",
                                                  **item.action_params))
            except DboptError as exc:
                out.append(f"{db.name}: {item.action} {item.subject} failed: {exc.message}")
    return out
