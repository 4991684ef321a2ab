"""Catalog lookups the advisor needs: which table a name means, its columns, column
statistics (for selectivity) and its existing indexes in comparable form."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from pglast import ast
from pglast.stream import RawStream
from pglast.visitors import Visitor
from psycopg import sql

from .parse import parse_one
from .spec import IndexSpec, Key


class _Unqualify(Visitor):
    """Drop table qualifiers and casts so `upper((t.email)::text)` and `UPPER(email)` compare equal."""

    def visit_ColumnRef(self, ancestors, node):
        return ast.ColumnRef(fields=(node.fields[-1],))

    def visit_TypeCast(self, ancestors, node):
        return node.arg


def canonical(node) -> str:
    _Unqualify()(node)
    return RawStream()(node).lower()


def canonical_expr(text: str) -> str:
    stmt = parse_one(f"SELECT {text}")
    return canonical(stmt.targetList[0].val) if stmt is not None else text.lower()


@dataclass(frozen=True)
class ExistingIndex:
    name: str
    schema: str
    table: str
    keys: tuple[str, ...]
    predicate: str
    valid: bool
    method: str


def existing_from_rows(rows: list[dict[str, Any]]) -> list[ExistingIndex]:
    out = []
    for row in rows:
        stmt = parse_one(row["definition"]) if row.get("definition") else None
        if not isinstance(stmt, ast.IndexStmt):
            continue
        keys = tuple(p.name.lower() if p.name else canonical(p.expr) for p in stmt.indexParams)
        predicate = canonical(stmt.whereClause) if stmt.whereClause is not None else ""
        out.append(ExistingIndex(row["index"], row["schema"], row["table"], keys, predicate, row["valid"],
                                 row["method"]))
    return out


def spec_keys(spec: IndexSpec) -> tuple[str, ...]:
    return tuple(k.column.lower() if not k.function else canonical_expr(_key_sql(k)) for k in spec.keys)


def spec_predicate(spec: IndexSpec, conn: psycopg.Connection) -> str:
    if not spec.where:
        return ""
    text = sql.SQL(" AND ").join(c.render() for c in spec.where).as_string(conn)
    return canonical_expr(text)


def _key_sql(key: Key) -> str:
    cast = f"::{key.cast}" if key.cast else ""
    return f'{key.function}("{key.column}"{cast})'


def covering_index(spec: IndexSpec, existing: list[ExistingIndex], conn: psycopg.Connection) -> ExistingIndex | None:
    """An existing valid btree index that already serves `spec`: its keys start with the
    spec's keys (or with the spec's constant-filter columns then its keys) and it is not
    partial, or partial on the same condition."""
    keys = spec_keys(spec)
    predicate = spec_predicate(spec, conn)
    const_cols = tuple(c.column.lower() for c in spec.where if c.op == "=")
    for ix in existing:
        if (ix.schema, ix.table) != (spec.schema, spec.table) or not ix.valid or ix.method != "btree":
            continue
        if ix.keys[:len(keys)] == keys and (not ix.predicate or ix.predicate == predicate):
            return ix
        if const_cols and not ix.predicate and ix.keys[:len(const_cols) + len(keys)] == const_cols + keys:
            return ix
    return None


class Catalog:
    def __init__(self, conn: psycopg.Connection):
        self.conn = conn
        self._tables: dict[tuple[str | None, str], tuple[str, str] | None] = {}
        self._columns: dict[tuple[str, str], set[str]] = {}
        self._stats: dict[tuple[str, str, str], dict | None] = {}

    def resolve(self, schema: str | None, name: str) -> tuple[str, str] | None:
        key = (schema, name)
        if key not in self._tables:
            qualified = sql.SQL(".").join([sql.Identifier(schema), sql.Identifier(name)] if schema
                                          else [sql.Identifier(name)]).as_string(self.conn)
            row = self.conn.execute("""SELECT n.nspname, c.relname FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(%s) AND c.relkind IN ('r', 'p', 'm')""",
                                    (qualified,)).fetchone()
            self._tables[key] = (row[0], row[1]) if row else None
        return self._tables[key]

    def columns(self, table: tuple[str, str]) -> set[str]:
        if table not in self._columns:
            rows = self.conn.execute("""SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped""", table).fetchall()
            self._columns[table] = {r[0] for r in rows}
        return self._columns[table]

    def stats(self, table: tuple[str, str], column: str) -> dict | None:
        key = (*table, column)
        if key not in self._stats:
            row = self.conn.execute("""SELECT s.null_frac, s.n_distinct, s.most_common_vals::text::text[],
                       s.most_common_freqs, c.reltuples
                FROM pg_stats s JOIN pg_namespace n ON n.nspname = s.schemaname
                JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.tablename
                WHERE s.schemaname = %s AND s.tablename = %s AND s.attname = %s""", key).fetchone()
            self._stats[key] = None if row is None else {
                "null_frac": row[0], "n_distinct": row[1], "mcv": list(row[2] or []), "mcf": list(row[3] or []),
                "reltuples": row[4]}
        return self._stats[key]

    def distinct(self, table: tuple[str, str], column: str) -> float | None:
        """Estimated number of distinct values in the column (None without statistics)."""
        st = self.stats(table, column)
        if not st:
            return None
        n = st["n_distinct"]
        return -n * max(st["reltuples"], 1) if n < 0 else n

    def selectivity(self, table: tuple[str, str], column: str, values: list[Any]) -> float | None:
        """The share of rows an equality filter on `column` matches: for the values seen
        in the workload where there are any (skew matters), else 1/distinct values."""
        st = self.stats(table, column)
        if not st:
            return None
        distinct = st["n_distinct"]
        if distinct < 0:
            distinct = -distinct * max(st["reltuples"], 1)
        if distinct <= 0:
            return None
        rest = max(1.0 - sum(st["mcf"]) - st["null_frac"], 0.0) / max(distinct - len(st["mcv"]), 1)
        if not values:
            return 1.0 / distinct if not st["mcf"] else max(sum(f * f for f in st["mcf"]) / max(sum(st["mcf"]), 1e-9),
                                                             rest)
        freqs = []
        for value in values:
            text = "t" if value is True else "f" if value is False else str(value)
            freqs.append(st["mcf"][st["mcv"].index(text)] if text in st["mcv"] else rest)
        return sum(freqs) / len(freqs)
