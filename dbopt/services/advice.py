"""Judging: findings from the snapshots, and the live missing-index advice."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from .. import collectors, findings
from ..advisor.engine import Advice, advise
from ..conf import dbopt_settings
from ..connections import connect
from ..errors import DboptError
from ..models import Finding, MonitoredDatabase, QuerySample, Snapshot
from .collection import ensure_extensions
from .databases import get_database


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
        feats = ensure_extensions(conn, collectors.features(conn))
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
    latest = latest_snapshots(db)
    found: list[findings.Found] = []
    statements = latest.get("statements", {}).get("rows", [])
    found += findings.slow_queries(statements)
    feats = db.features or {}
    found += findings.index_findings(latest.get("indexes", {}).get("rows", []), feats.get("stats_reset"),
                                     _age_days(feats.get("stats_reset")), recently_built=_recently_built(db))
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


def latest_snapshots(db: MonitoredDatabase) -> dict[str, Any]:
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


def _recently_built(db: MonitoredDatabase) -> set[str]:
    """Indexes dbopt built in the grace period: not yet "unused", they have had no time."""
    from perfmon.models import AuditRecord

    since = timezone.now() - timedelta(days=float(dbopt_settings.UNUSED_GRACE_DAYS))
    rows = AuditRecord.objects.filter(action="dbopt.build_index", result="ok", created_at__gte=since,
                                      target__startswith=f"{db.name}:").values_list("before", flat=True)
    return {f"{(r.get('spec') or {}).get('schema')}.{r.get('index')}" for r in rows}


def _peak_active(db: MonitoredDatabase) -> int:
    rows = Snapshot.objects.filter(database=db, kind=Snapshot.Kind.CONNECTIONS,
                                   taken_at__gte=timezone.now() - timedelta(days=1)).values_list("data", flat=True)
    return max((int(d.get("by_state", {}).get("active", 0)) for d in rows), default=0)


