"""Plan analysis: EXPLAIN (FORMAT JSON) of a chosen query, flagging what usually makes
it slow. EXPLAIN ANALYZE runs the statement, so it is done only on demand, only for a
plain SELECT, inside a READ ONLY transaction with a statement timeout, rolled back."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import psycopg
from pglast import ast
from psycopg import sql

from .advisor.engine import plan_nodes
from .advisor.parse import parse_one
from .conf import dbopt_settings
from .errors import NotReadOnly


@dataclass(frozen=True)
class PlanReport:
    statement: str
    analyzed: bool
    plan_source: str
    total_cost: float
    flags: list[dict[str, Any]] = field(default_factory=list)
    plan: dict[str, Any] = field(default_factory=dict)
    execution_ms: float | None = None


def is_read_only(statement: str) -> bool:
    """A single plain SELECT: no locking clause, no INTO, no data-modifying CTE."""
    stmt = parse_one(statement)
    if not isinstance(stmt, ast.SelectStmt) or stmt.lockingClause or stmt.intoClause:
        return False
    found = []

    def walk(node):
        if isinstance(node, (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt)):
            found.append(node)
        elif isinstance(node, ast.Node):
            for name in node:
                walk(getattr(node, name))
        elif isinstance(node, tuple):
            for item in node:
                walk(item)

    walk(stmt)
    return not found


def explain(conn: psycopg.Connection, statement: str, *, params: int = 0, analyze: bool = False,
            source: str = "sample") -> PlanReport:
    """EXPLAIN a statement with real values (`source` 'sample'), or the generic plan of a
    normalized one (`params` > 0 placeholders, source 'generic')."""
    if parse_one(statement) is None:
        raise NotReadOnly("the statement is not exactly one SQL statement")
    if analyze:
        if source != "sample":
            raise NotReadOnly("EXPLAIN ANALYZE needs a real statement with its values; this query has no sample")
        if not is_read_only(statement):
            raise NotReadOnly("EXPLAIN ANALYZE runs the statement: only a plain SELECT is allowed")
        timeout = int(dbopt_settings.EXPLAIN_ANALYZE_TIMEOUT_MS)
        with conn.transaction(force_rollback=True):
            conn.execute("SET TRANSACTION READ ONLY")
            conn.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(timeout)))
            row = conn.execute("EXPLAIN (ANALYZE, BUFFERS, VERBOSE, FORMAT JSON) " + statement).fetchone()
    elif source == "generic":
        conn.execute("SET plan_cache_mode = force_generic_plan")
        try:
            conn.execute("PREPARE dbopt_plan AS " + statement)
            try:
                args = f"({', '.join(['NULL'] * params)})" if params else ""
                row = conn.execute(f"EXPLAIN (VERBOSE, FORMAT JSON) EXECUTE dbopt_plan{args}").fetchone()
            finally:
                conn.execute("DEALLOCATE dbopt_plan")
        finally:
            conn.execute("RESET plan_cache_mode")
    else:
        with conn.transaction(force_rollback=True):
            conn.execute("SET TRANSACTION READ ONLY")
            row = conn.execute("EXPLAIN (VERBOSE, FORMAT JSON) " + statement).fetchone()
    data = row[0] if not isinstance(row[0], str) else json.loads(row[0])
    top = data[0]
    plan = top["Plan"]
    return PlanReport(statement=statement[:4000], analyzed=analyze, plan_source=source,
                      total_cost=plan["Total Cost"], flags=flag_plan(plan, analyze, _table_rows(conn, plan)), plan=top,
                      execution_ms=top.get("Execution Time"))


def _table_rows(conn: psycopg.Connection, plan: dict) -> dict[tuple[str, str], float]:
    """The planner's row count of each table the plan scans (from VERBOSE's Schema)."""
    names = {(n["Schema"], n["Relation Name"]) for n in plan_nodes(plan) if "Schema" in n and "Relation Name" in n}
    out = {}
    for schema, rel in names:
        row = conn.execute("""SELECT c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                              WHERE n.nspname = %s AND c.relname = %s""", (schema, rel)).fetchone()
        if row:
            out[(schema, rel)] = float(row[0])
    return out


def flag_plan(plan: dict, analyzed: bool, table_rows: dict[tuple[str, str], float] | None = None
              ) -> list[dict[str, Any]]:
    """Seq scans on large tables, row estimates far off (ANALYZE), sorts or hashes
    spilling to disk, nested loops over many outer rows."""
    table_rows = table_rows or {}
    large = int(dbopt_settings.LARGE_TABLE_ROWS)
    factor = float(dbopt_settings.ROW_ESTIMATE_FACTOR)
    loop_rows = int(dbopt_settings.NESTED_LOOP_ROWS)
    flags = []
    for node in plan_nodes(plan):
        kind = node.get("Node Type", "")
        rows = node.get("Actual Rows", node.get("Plan Rows", 0)) * max(node.get("Actual Loops", 1), 1)
        if kind == "Seq Scan":
            scanned = max(rows + node.get("Rows Removed by Filter", 0),
                          table_rows.get((node.get("Schema"), node.get("Relation Name")), 0))
            if scanned >= large:
                flags.append({"flag": "seq_scan_large_table", "relation": node.get("Relation Name"),
                              "rows": scanned, "filter": node.get("Filter", "")})
        if analyzed and "Actual Rows" in node:
            est, act = max(node["Plan Rows"], 1), max(node["Actual Rows"], 1)
            if max(est / act, act / est) >= factor and max(est, act) >= 100:
                flags.append({"flag": "row_estimate_off", "node": kind, "estimated": node["Plan Rows"],
                              "actual": node["Actual Rows"], "relation": node.get("Relation Name")})
        if node.get("Sort Space Type") == "Disk" or "external" in str(node.get("Sort Method", "")):
            flags.append({"flag": "sort_spills_to_disk", "sort_key": node.get("Sort Key"),
                          "space_kb": node.get("Sort Space Used")})
        if kind == "Hash" and max(node.get("Hash Batches", 1), node.get("Original Hash Batches", 1)) > 1:
            flags.append({"flag": "hash_spills_to_disk", "batches": node.get("Hash Batches")})
        if kind == "Nested Loop":
            children = node.get("Plans", [])
            outer = children[0] if children else {}
            outer_rows = outer.get("Actual Rows", outer.get("Plan Rows", 0)) * max(outer.get("Actual Loops", 1), 1)
            if outer_rows >= loop_rows:
                flags.append({"flag": "nested_loop_many_rows", "outer_rows": outer_rows})
    return flags
