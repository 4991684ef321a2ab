"""Findings from the collected rows: slow queries, unused, duplicate and invalid indexes,
tables needing VACUUM or ANALYZE, bloat, lock waits, long queries, pool sizing.
Pure functions: rows in, `Found` out; services store them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .conf import dbopt_settings


@dataclass(frozen=True)
class Found:
    kind: str
    subject: str
    title: str
    detail: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    impact: float = 0.0
    action: str = ""
    action_params: dict[str, Any] = field(default_factory=dict)


def _mb(n: float) -> str:
    return f"{n / 1024 / 1024:.1f} MB"


def slow_queries(statements: list[dict]) -> list[Found]:
    threshold = float(dbopt_settings.SLOW_QUERY_THRESHOLD_MS)
    min_calls = int(dbopt_settings.SLOW_QUERY_MIN_CALLS)
    out = []
    top_total = {s["queryid"] for s in statements[:5]}
    for s in statements:
        slow = s["mean_ms"] >= threshold and s["calls"] >= min_calls
        if not slow and s["queryid"] not in top_total:
            continue
        why = (f"mean {s['mean_ms']:.1f} ms over {s['calls']} calls (threshold {threshold:g} ms)" if slow
               else f"among the 5 statements with the largest total time ({s['total_ms']:.0f} ms)")
        out.append(Found("slow_query", f"query:{s['queryid']}", f"Slow query: {s['query'][:120]}", why,
                         {k: s[k] for k in ("queryid", "query", "calls", "total_ms", "mean_ms", "rows",
                                            "shared_blks_hit", "shared_blks_read", "temp_blks_written")},
                         impact=float(s["total_ms"])))
    return out


def _key_columns(row: dict) -> list[tuple[int, int]]:
    """(column, operator class) per key: an index with text_pattern_ops is no twin of a plain one."""
    return list(zip(row["columns"][: row["key_count"]], row["opclasses"][: row["key_count"]]))


def index_findings(indexes: list[dict], stats_reset: str | None, stats_age_days: float | None,
                   recently_built: set[str] = frozenset()) -> list[Found]:
    """Unused, duplicate / prefix-redundant and invalid indexes. An index that backs a
    primary key, unique or exclusion constraint is never proposed for dropping."""
    out = []
    min_bytes = int(dbopt_settings.UNUSED_INDEX_MIN_BYTES)
    indexes = [r for r in indexes if not r.get("locked")]  # definition unknown this time
    for row in indexes:
        name = f"{row['schema']}.{row['index']}"
        params = {"schema": row["schema"], "index": row["index"]}
        if not row["valid"]:
            out.append(Found("invalid_index", name, f"Invalid index {name}",
                             "left over by a failed CREATE INDEX CONCURRENTLY: it costs writes and serves no reads",
                             {"definition": row["definition"], "bytes": row["bytes"]}, float(row["bytes"]),
                             "drop_index", params))
            continue
        if row["constraint_type"] or row["unique"] or row["primary"]:
            continue
        if row["idx_scan"] == 0 and row["bytes"] >= min_bytes and name not in recently_built:
            age = (" since statistics began (never reset)" if stats_age_days is None
                   else f" in the {stats_age_days:.1f} days since statistics were reset")
            out.append(Found("unused_index", name, f"Unused index {name} ({_mb(row['bytes'])})",
                             f"no index scans{age}", {"definition": row["definition"], "bytes": row["bytes"],
                                                      "idx_scan": 0, "stats_reset": stats_reset,
                                                      "stats_age_days": stats_age_days},
                             float(row["bytes"]), "drop_index", params))
    out.extend(_duplicates(indexes))
    return out


def _duplicates(indexes: list[dict]) -> list[Found]:
    by_table: dict[tuple, list[dict]] = {}
    for row in indexes:
        if row["valid"]:
            by_table.setdefault((row["schema"], row["table"]), []).append(row)
    out = []
    for rows in by_table.values():
        for row in rows:
            if row["constraint_type"] or row["unique"] or row["primary"] or 0 in row["columns"]:
                continue
            cols = _key_columns(row)
            for other in rows:
                if other is row or other["method"] != row["method"] or (other["predicate"] or "") != (row["predicate"] or ""):
                    continue
                ocols = _key_columns(other)
                if ocols[: len(cols)] != cols:
                    continue
                if ocols == cols and not (other["constraint_type"] or other["unique"]) and other["index"] > row["index"]:
                    continue  # exact twins: report only one of the pair (the later name)
                name = f"{row['schema']}.{row['index']}"
                kind = "duplicates" if ocols == cols else "is a prefix of"
                out.append(Found("duplicate_index", name, f"Redundant index {name}",
                                 f"{row['index']} {kind} {other['index']}, which serves the same lookups",
                                 {"definition": row["definition"], "covered_by": other["definition"],
                                  "bytes": row["bytes"]}, float(row["bytes"]), "drop_index",
                                 {"schema": row["schema"], "index": row["index"]}))
                break
    return out


def maintenance_findings(tables: list[dict]) -> list[Found]:
    out = []
    for t in tables:
        name = f"{t['schema']}.{t['table']}"
        live, dead = max(int(t["n_live_tup"]), 0), int(t["n_dead_tup"])
        share = dead / (live + dead) if live + dead else 0.0
        params = {"schema": t["schema"], "table": t["table"]}
        if dead >= int(dbopt_settings.VACUUM_MIN_DEAD_TUPLES) and share >= float(dbopt_settings.VACUUM_DEAD_SHARE):
            out.append(Found("needs_vacuum", name, f"{name} needs VACUUM ({share:.0%} dead tuples)",
                             f"{dead} dead and {live} live tuples; last vacuum "
                             f"{t['last_vacuum'] or t['last_autovacuum'] or 'never'}",
                             {"n_dead_tup": dead, "n_live_tup": live, "dead_share": round(share, 4),
                              "last_vacuum": t["last_vacuum"], "last_autovacuum": t["last_autovacuum"]},
                             float(dead), "vacuum_table", params))
        changed = int(t["n_mod_since_analyze"])
        if changed >= int(dbopt_settings.ANALYZE_MIN_CHANGED) and \
                changed >= float(dbopt_settings.ANALYZE_CHANGED_SHARE) * max(live, 1):
            out.append(Found("needs_analyze", name, f"{name} needs ANALYZE ({changed} rows changed)",
                             f"{changed} rows changed since the last analyze "
                             f"({t['last_analyze'] or t['last_autoanalyze'] or 'never'})",
                             {"n_mod_since_analyze": changed, "n_live_tup": live,
                              "last_analyze": t["last_analyze"], "last_autoanalyze": t["last_autoanalyze"]},
                             float(changed), "analyze_table", params))
    return out


def bloat_findings(bloat: dict[str, list[dict]]) -> list[Found]:
    out = []
    min_share, min_bytes = float(dbopt_settings.BLOAT_MIN_SHARE), int(dbopt_settings.BLOAT_MIN_BYTES)
    for row in bloat.get("tables", []):
        if row["bloat_share"] >= min_share and row["wasted_bytes"] >= min_bytes:
            name = f"{row['schema']}.{row['table']}"
            out.append(Found("bloated_table", name, f"Bloated table {name} (~{_mb(row['wasted_bytes'])} wasted)",
                             "estimated from row widths; VACUUM makes the space reusable, VACUUM FULL or "
                             "pg_repack returns it", row, float(row["wasted_bytes"]), "vacuum_table",
                             {"schema": row["schema"], "table": row["table"]}))
    for row in bloat.get("indexes", []):
        if row["bloat_share"] >= min_share and row["wasted_bytes"] >= min_bytes:
            name = f"{row['schema']}.{row['index']}"
            out.append(Found("bloated_index", name, f"Bloated index {name} (~{_mb(row['wasted_bytes'])} wasted)",
                             "estimated from key widths; REINDEX CONCURRENTLY rebuilds it compactly", row,
                             float(row["wasted_bytes"]), "reindex_index",
                             {"schema": row["schema"], "index": row["index"]}))
    return out


def activity_findings(activity: list[dict], locks: list[dict]) -> list[Found]:
    out = []
    for row in activity:
        out.append(Found("long_query", f"pid:{row['pid']}", f"Query running {row['seconds']:.0f} s (pid {row['pid']})",
                         row["query"][:300], row, float(row["seconds"])))
    for row in locks:
        out.append(Found("lock_wait", f"pid:{row['waiting_pid']}",
                         f"pid {row['waiting_pid']} waits {row['waiting_seconds']:.0f} s for a lock held by "
                         f"pid {row['blocking_pid']}", row["waiting_query"][:300], row,
                         float(row["waiting_seconds"])))
    return out


def pool_findings(alias: str, pool: dict | None, connections: dict, peak_active: int) -> list[Found]:
    """Pool sizing from observed concurrency: the peak number of active connections seen
    against the pool's max size, and the server's max_connections."""
    out = []
    if pool is None:
        if peak_active >= 10:
            out.append(Found("pool_size", alias, f"{alias}: consider Django's connection pool",
                             f"{peak_active} connections were active at once without a pool; set "
                             f"DATABASE_POOL_MAX_SIZE to about {peak_active + 2} per process",
                             {"peak_active": peak_active, **connections}))
        return out
    used = (pool["pool_size"] - pool["pool_available"]) / max(pool["max_size"], 1)
    if pool["requests_waiting"] or pool.get("requests_queued", 0) > 0 and pool["pool_available"] == 0:
        out.append(Found("pool_size", alias, f"{alias}: pool too small (requests waited)",
                         f"requests queued for a connection; raise max_size above {pool['max_size']}",
                         {"pool": pool, "peak_active": peak_active}))
    elif used * 100 >= _pool_usage_threshold():
        out.append(Found("pool_size", alias, f"{alias}: pool {used:.0%} in use",
                         f"{pool['pool_size'] - pool['pool_available']} of at most {pool['max_size']} connections "
                         f"busy (POOL_USAGE_THRESHOLD {_pool_usage_threshold():g} %); raise max_size before "
                         "requests start to wait", {"pool": pool, "peak_active": peak_active}))
    elif peak_active and pool["max_size"] > 2 * peak_active + 2:
        out.append(Found("pool_size", alias, f"{alias}: pool larger than needed",
                         f"at most {peak_active} active connections seen; max_size {pool['max_size']} holds "
                         f"server connections ({connections.get('max_connections')} allowed) for nothing",
                         {"pool": pool, "peak_active": peak_active}))
    return out


def _pool_usage_threshold() -> float:
    from django.db import DatabaseError

    from perfmon.ops import live_settings

    try:
        return float(live_settings.get("POOL_USAGE_THRESHOLD"))
    except DatabaseError:  # live settings not migrated yet: the documented default
        return 75.0
