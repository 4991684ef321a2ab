"""Collection: snapshot each database's statistics views; samples of real statements."""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pglast
import psycopg
from django.db import connections, transaction
from django.utils import timezone
from psycopg import sql

from .. import collectors
from ..conf import dbopt_settings
from ..connections import connect, scrub
from ..errors import DatabaseUnreachable, NotPostgres
from ..models import MonitoredDatabase, QuerySample, Snapshot
from .databases import ensure_databases, get_database

log = logging.getLogger(__name__)


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
            feats = ensure_extensions(conn, collectors.features(conn))
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


def ensure_extensions(conn: psycopg.Connection, feats: dict) -> dict:
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
        pool = collectors.pool_usage(connections[db.alias])
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
    """Keep a real statement (with its values) for costing plans, grouped by pglast
    fingerprint; the slowest SAMPLES_KEPT per fingerprint stay. Statements that are not
    exactly one statement, or carry $n placeholders instead of values, are ignored."""
    from ..advisor.parse import has_values_only

    sql_text = sql_text[:10000]
    if not has_values_only(sql_text):
        return False
    fp = pglast.fingerprint(sql_text)
    digest = hashlib.blake2b(sql_text.encode(), digest_size=16).hexdigest()
    QuerySample.objects.update_or_create(database=database, sql_hash=digest, defaults={
        "fingerprint": fp, "sql": sql_text, "duration_ms": duration_ms, "source": source,
        "seen_at": seen_at or timezone.now()})
    keep = QuerySample.objects.filter(database=database, fingerprint=fp).order_by("-duration_ms", "-seen_at")
    stale = list(keep.values_list("pk", flat=True)[int(dbopt_settings.SAMPLES_KEPT):])
    if stale:
        QuerySample.objects.filter(pk__in=stale).delete()
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


