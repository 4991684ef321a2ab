"""Reads for the API, admin and reports."""
from __future__ import annotations

from typing import Any

from django.db import connections
from django.db.models import Count

from perfmon.models import AuditRecord

from .models import Finding, MonitoredDatabase, Snapshot

NEEDS_POSTGRES = ("Database optimization needs PostgreSQL; this database is {engine}. Set DATABASE_URL="
                  "postgresql://... to use it. Everything else in the product works without it.")


def support_message(db: MonitoredDatabase) -> str:
    """'' when dbopt can work on `db`, else why not (said clearly, not as an error)."""
    if db.alias and db.alias in connections.settings:
        engine = connections.settings[db.alias]["ENGINE"]
        if "postgresql" not in engine:
            return NEEDS_POSTGRES.format(engine=engine.rsplit(".", 1)[-1])
    return ""


def latest(db: MonitoredDatabase, kind: str) -> Snapshot | None:
    return Snapshot.objects.filter(database=db, kind=kind).order_by("-taken_at").first()


def database_status(db: MonitoredDatabase, *, top: int = 10, findings: int = 50,
                    kinds: list[str] | None = None) -> dict[str, Any]:
    message = support_message(db)
    out: dict[str, Any] = {
        "name": db.name, "target": db.display_target, "enabled": db.enabled,
        "supported": not message, "message": message or db.status_detail,
        "status": MonitoredDatabase.Status.UNSUPPORTED if message else db.status,
        "server_version": db.server_version, "last_collected_at": db.last_collected_at,
        "last_advised_at": db.last_advised_at,
        "features": {k: (db.features or {}).get(k) for k in ("pg_stat_statements", "hypopg", "stats_reset")},
    }
    if message:
        return {**out, "size_bytes": None, "cache": None, "connections": None, "top_queries": [], "findings": [],
                "finding_counts": {}}
    size, cache, conns, stmts = (latest(db, k) for k in ("size", "cache", "connections", "statements"))
    out["size_bytes"] = size.data.get("bytes") if size else None
    out["cache"] = {k: cache.data.get(k) for k in ("table_hit_ratio", "index_hit_ratio")} if cache else None
    out["connections"] = conns.data if conns else None
    out["top_queries"] = top_queries(db, stmts, top)
    open_findings = Finding.objects.filter(database=db, status="open")
    out["finding_counts"] = dict(open_findings.values_list("kind").annotate(n=Count("id")).order_by())
    if kinds:
        open_findings = open_findings.filter(kind__in=kinds)
    out["findings"] = [finding_row(f) for f in open_findings[:findings]]
    return out


def top_queries(db: MonitoredDatabase, snap: Snapshot | None, top: int) -> list[dict[str, Any]]:
    """The heaviest statements of the latest snapshot (totals since the statistics reset),
    with what changed since the snapshot before it (calls and time in that interval)."""
    if snap is None:
        return []
    before = Snapshot.objects.filter(database=db, kind="statements", taken_at__lt=snap.taken_at).order_by(
        "-taken_at").first()
    previous = {q["queryid"]: q for q in (before.data.get("rows", []) if before else [])}
    out = []
    for q in snap.data.get("rows", [])[:top]:
        row = {k: q.get(k) for k in ("queryid", "query", "calls", "total_ms", "mean_ms", "rows")}
        old = previous.get(q["queryid"])
        if old is not None and q["calls"] >= old["calls"]:  # a reset in between makes deltas meaningless
            row["interval"] = {"seconds": (snap.taken_at - before.taken_at).total_seconds(),
                               "calls": q["calls"] - old["calls"],
                               "total_ms": round(q["total_ms"] - old["total_ms"], 3)}
        out.append(row)
    return out


def finding_row(f: Finding) -> dict[str, Any]:
    return {"id": f.pk, "kind": f.kind, "subject": f.subject, "title": f.title, "detail": f.detail,
            "impact": f.impact, "action": f.action, "evidence": f.evidence, "first_seen_at": f.first_seen_at,
            "last_seen_at": f.last_seen_at}


def recent_maintenance(limit: int = 20) -> list[dict[str, Any]]:
    return [{"id": r.pk, "action": r.action, "target": r.target, "actor": r.actor_label, "reason": r.reason,
             "result": r.result, "error": r.error, "before": r.before, "after": r.after, "at": r.created_at}
            for r in AuditRecord.objects.filter(action__startswith="dbopt.").order_by("-created_at")[:limit]]


def overview(*, kinds: list[str] | None = None, limit: int = 50) -> dict[str, Any]:
    """Every monitored database's status, top queries and open findings (the `limit`
    largest by impact, of `kinds` if given), and the recent dbopt actions."""
    from .services import ensure_databases

    ensure_databases()
    return {"databases": [database_status(db, findings=limit, kinds=kinds) for db in MonitoredDatabase.objects.all()],
            "recent_maintenance": recent_maintenance()}
