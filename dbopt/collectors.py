"""Read PostgreSQL's statistics views. Each collector takes an open psycopg connection
to the monitored database and returns JSON-ready rows (the Snapshot's data).

Sizes come from pg_class.relpages (kept by VACUUM, ANALYZE and CREATE INDEX), not
pg_relation_size(), which takes a lock on each relation: a collector must never queue
behind a long ALTER TABLE or LOCK, or it would pile up and miss the lock waits it is
there to report."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row


def _rows(conn: psycopg.Connection, sql: str, params: tuple | dict = ()) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return [{k: _jsonable(v) for k, v in row.items()} for row in cur.fetchall()]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "total_seconds"):
        return value.total_seconds()
    if value.__class__.__name__ == "Decimal":
        return float(value)
    return value


def features(conn: psycopg.Connection) -> dict[str, Any]:
    """Server version, which extensions are created or merely available, and when the
    statistics were last reset (the age an 'unused index' is judged over)."""
    row = _rows(conn, """
        SELECT current_setting('server_version') AS server_version, current_database() AS dbname,
               d.oid AS dbid, s.stats_reset,
               EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') AS pg_stat_statements,
               EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'hypopg') AS hypopg,
               EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg') AS hypopg_available,
               EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements')
                 AS pg_stat_statements_available,
               current_setting('shared_preload_libraries') LIKE '%%pg_stat_statements%%' AS pgss_preloaded,
               current_setting('max_connections')::int AS max_connections
        FROM pg_database d LEFT JOIN pg_stat_database s ON s.datid = d.oid
        WHERE d.datname = current_database()""")[0]
    return row


def statements(conn: psycopg.Connection, limit: int) -> list[dict[str, Any]]:
    """pg_stat_statements of this database, the `limit` heaviest by total time."""
    return _rows(conn, """
        SELECT queryid::text AS queryid, query, calls, total_exec_time AS total_ms, mean_exec_time AS mean_ms,
               rows, shared_blks_hit, shared_blks_read, temp_blks_read, temp_blks_written
        FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND toplevel
        ORDER BY total_exec_time DESC LIMIT %s""", (limit,))


def tables(conn: psycopg.Connection) -> list[dict[str, Any]]:
    return _rows(conn, """
        SELECT t.relid, t.schemaname AS schema, t.relname AS "table", c.reltuples::bigint AS reltuples,
               t.n_live_tup, t.n_dead_tup, t.n_mod_since_analyze, t.seq_scan, t.seq_tup_read,
               coalesce(t.idx_scan, 0) AS idx_scan, t.n_tup_ins, t.n_tup_upd, t.n_tup_del,
               t.last_vacuum, t.last_autovacuum, t.last_analyze, t.last_autoanalyze,
               c.relpages::bigint * current_setting('block_size')::int AS table_bytes,
               (c.relpages::bigint + coalesce(toast.relpages, 0) + coalesce(
                   (SELECT sum(ic.relpages) FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                    WHERE i.indrelid = c.oid), 0))::bigint * current_setting('block_size')::int AS total_bytes,
               c.relpages
        FROM pg_stat_user_tables t JOIN pg_class c ON c.oid = t.relid
        LEFT JOIN pg_class toast ON toast.oid = c.reltoastrelid
        ORDER BY total_bytes DESC""")


def indexes(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Every user index with its scans, size, validity, the constraint it backs (p, u,
    x or none), key columns (0 for an expression), partial predicate and definition
    (None, with `locked`, while its table is held in ACCESS EXCLUSIVE mode)."""
    return _rows(conn, """
        SELECT s.indexrelid, s.relid, s.schemaname AS schema, s.relname AS "table", s.indexrelname AS "index",
               s.idx_scan, s.idx_tup_read, ic.relpages::bigint * current_setting('block_size')::int AS bytes,
               i.indisvalid AS valid, i.indisunique AS "unique", i.indisprimary AS "primary",
               coalesce(con.contype::text, '') AS constraint_type,
               i.indkey::int2[]::int[] AS columns, i.indnkeyatts AS key_count,
               string_to_array(i.indclass::text, ' ')::int[] AS opclasses,
               CASE WHEN locked.relation IS NULL THEN pg_get_expr(i.indpred, i.indrelid) END AS predicate,
               CASE WHEN locked.relation IS NULL THEN pg_get_indexdef(s.indexrelid) END AS definition,
               locked.relation IS NOT NULL AS locked, am.amname AS method,
               ic.reltuples::bigint AS reltuples, ic.relpages
        FROM pg_stat_user_indexes s
        JOIN pg_index i ON i.indexrelid = s.indexrelid
        JOIN pg_class ic ON ic.oid = s.indexrelid
        JOIN pg_am am ON am.oid = ic.relam
        LEFT JOIN pg_constraint con ON con.conindid = s.indexrelid AND con.contype IN ('p', 'u', 'x')
        -- pg_get_indexdef/pg_get_expr lock the table: skip tables someone holds exclusively.
        LEFT JOIN (SELECT DISTINCT relation FROM pg_locks WHERE granted AND mode = 'AccessExclusiveLock'
                   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())) locked
               ON locked.relation = s.relid
        ORDER BY s.schemaname, s.relname, s.indexrelname""")


def cache(conn: psycopg.Connection) -> dict[str, Any]:
    row = _rows(conn, """
        SELECT sum(heap_blks_hit)::float8 AS table_hit, sum(heap_blks_read)::float8 AS table_read,
               sum(idx_blks_hit)::float8 AS index_hit, sum(idx_blks_read)::float8 AS index_read
        FROM pg_statio_user_tables""")[0]

    def ratio(hit, read):
        hit, read = hit or 0.0, read or 0.0
        return round(hit / (hit + read), 4) if hit + read else None

    return {**row, "table_hit_ratio": ratio(row["table_hit"], row["table_read"]),
            "index_hit_ratio": ratio(row["index_hit"], row["index_read"])}


def connection_states(conn: psycopg.Connection) -> dict[str, Any]:
    by_state = _rows(conn, """
        SELECT coalesce(state, 'background') AS state, count(*) AS n FROM pg_stat_activity
        WHERE datname = current_database() GROUP BY 1 ORDER BY 1""")
    total = _rows(conn, "SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = 'client backend'")[0]["n"]
    return {"by_state": {r["state"]: r["n"] for r in by_state}, "server_total": total,
            "max_connections": int(_rows(conn, "SELECT current_setting('max_connections') AS m")[0]["m"])}


def activity(conn: psycopg.Connection, min_seconds: float) -> list[dict[str, Any]]:
    """Statements in this database running longer than `min_seconds` (not our own)."""
    return _rows(conn, """
        SELECT pid, usename AS "user", application_name, state, wait_event_type, wait_event,
               extract(epoch FROM now() - query_start)::float8 AS seconds, left(query, 4000) AS query
        FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'
          AND backend_type = 'client backend' AND now() - query_start >= make_interval(secs => %s)
        ORDER BY query_start""", (float(min_seconds),))


def lock_waits(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Who waits for a lock and who blocks them."""
    return _rows(conn, """
        SELECT w.pid AS waiting_pid, left(w.query, 1000) AS waiting_query,
               extract(epoch FROM now() - w.query_start)::float8 AS waiting_seconds,
               w.wait_event_type, w.wait_event, b.pid AS blocking_pid, b.state AS blocking_state,
               left(b.query, 1000) AS blocking_query,
               extract(epoch FROM now() - coalesce(b.xact_start, b.query_start))::float8 AS blocking_seconds
        FROM pg_stat_activity w
        JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS blocker(pid) ON true
        JOIN pg_stat_activity b ON b.pid = blocker.pid
        WHERE w.datname = current_database()
        ORDER BY w.query_start""")


def size(conn: psycopg.Connection) -> dict[str, Any]:
    return _rows(conn, "SELECT pg_database_size(current_database()) AS bytes")[0]


def bloat(conn: psycopg.Connection) -> dict[str, list[dict[str, Any]]]:
    """Estimated bloat: the pages a table or btree index has against the pages its rows
    need (row widths from pg_stats, the fill factor honoured). Estimates, like pghero's:
    they need fresh statistics (ANALYZE) and skip tables never analyzed."""
    tables_ = _rows(conn, """
        WITH widths AS (
            SELECT s.schemaname, s.tablename, sum((1 - s.null_frac) * s.avg_width) AS width
            FROM pg_stats s GROUP BY 1, 2)
        SELECT c.oid AS relid, n.nspname AS schema, c.relname AS "table", c.relpages,
               c.reltuples::bigint AS reltuples, c.relpages::bigint * current_setting('block_size')::int AS bytes,
               ceil(c.reltuples * (24 + 4 + w.width) /
                    (current_setting('block_size')::int * coalesce(
                       (SELECT split_part(o, '=', 2)::int FROM unnest(c.reloptions) o WHERE o LIKE 'fillfactor=%%'),
                       100) / 100.0 - 24))::bigint AS expected_pages
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN widths w ON w.schemaname = n.nspname AND w.tablename = c.relname
        WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND c.reltuples > 0""")
    indexes_ = _rows(conn, """
        WITH cols AS (
            SELECT i.indexrelid, sum(coalesce(s.avg_width, 8)) AS width
            FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
            JOIN LATERAL unnest(i.indkey::int2[]) AS k(attnum) ON true
            LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
            LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = t.relname AND s.attname = a.attname
            GROUP BY i.indexrelid)
        SELECT ic.oid AS indexrelid, n.nspname AS schema, ic.relname AS "index", t.relname AS "table",
               ic.relpages, ic.reltuples::bigint AS reltuples,
               ic.relpages::bigint * current_setting('block_size')::int AS bytes,
               ceil(ic.reltuples * (8 + 4 + cols.width) / (current_setting('block_size')::int * 0.9 - 24))::bigint
                 + 1 AS expected_pages
        FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = ic.relnamespace JOIN pg_am am ON am.oid = ic.relam
        JOIN cols ON cols.indexrelid = i.indexrelid
        WHERE am.amname = 'btree' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
          AND ic.reltuples > 0""")
    block = int(_rows(conn, "SELECT current_setting('block_size') AS b")[0]["b"])
    for row in tables_ + indexes_:
        expected = max(int(row["expected_pages"] or 0), 1)
        wasted_pages = max(int(row["relpages"]) - expected, 0)
        row["wasted_bytes"] = wasted_pages * block
        row["bloat_share"] = round(wasted_pages / row["relpages"], 3) if row["relpages"] else 0.0
    return {"tables": tables_, "indexes": indexes_}


def pool_usage(wrapper) -> dict[str, Any] | None:
    """The Django connection pool of this process for one connection (a DatabaseWrapper),
    where the pool is on (OPTIONS["pool"]); None otherwise. Per process: each web worker
    has its own pool, so this is what the collecting process sees."""
    if wrapper.vendor != "postgresql" or not wrapper.settings_dict.get("OPTIONS", {}).get("pool"):
        return None
    pool = wrapper.pool
    if pool is None:
        return None
    stats = pool.get_stats()
    return {"min_size": pool.min_size, "max_size": pool.max_size,
            **{k: stats.get(k, 0) for k in ("pool_size", "pool_available", "requests_waiting", "requests_num",
                                           "requests_queued", "requests_wait_ms", "requests_errors",
                                           "usage_ms", "connections_num", "connections_errors")}}
