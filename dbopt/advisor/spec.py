"""Index specifications as data, rendered to SQL only with quoted identifiers and literals.

An index to build travels as an IndexSpec (from a finding's action_params, never as SQL
text), so no endpoint or stored row can carry arbitrary SQL into a DDL statement.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

from psycopg import sql

from ..errors import DboptError

# Functions and casts an expression key may use: what Django's lookups produce.
FUNCTIONS = {"upper", "lower"}
CASTS = {"text", "varchar", "date"}
OPS = {"=", "IS NULL", "IS NOT NULL"}


@dataclass(frozen=True)
class Key:
    column: str
    function: str = ""
    cast: str = ""

    def render(self) -> sql.Composable:
        col = sql.Identifier(self.column)
        if not self.function:
            return col
        inner = sql.SQL("{}::{}").format(col, sql.SQL(self.cast)) if self.cast else col
        return sql.SQL("({}({}))").format(sql.SQL(self.function), inner)

    @property
    def label(self) -> str:
        if not self.function:
            return self.column
        return f"{self.function}({self.column}{'::' + self.cast if self.cast else ''})"


@dataclass(frozen=True)
class Cond:
    column: str
    op: str
    value: Any = None

    def render(self) -> sql.Composable:
        if self.op == "=":
            return sql.SQL("{} = {}").format(sql.Identifier(self.column), sql.Literal(self.value))
        return sql.SQL("{} {}").format(sql.Identifier(self.column), sql.SQL(self.op))

    @property
    def label(self) -> str:
        return f"{self.column} {self.op}" + (f" {self.value!r}" if self.op == "=" else "")


@dataclass(frozen=True)
class IndexSpec:
    schema: str
    table: str
    keys: tuple[Key, ...]
    where: tuple[Cond, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for key in self.keys:
            if key.function and key.function not in FUNCTIONS:
                raise DboptError(f"index expressions may use {sorted(FUNCTIONS)}, not {key.function!r}")
            if key.cast and key.cast not in CASTS:
                raise DboptError(f"index expressions may cast to {sorted(CASTS)}, not {key.cast!r}")
        for cond in self.where:
            if cond.op not in OPS:
                raise DboptError(f"partial index conditions may use {sorted(OPS)}, not {cond.op!r}")
            if cond.op == "=" and not isinstance(cond.value, (str, int, float, bool)):
                raise DboptError(f"partial index value for {cond.column} must be a string, number or boolean")
        if not self.keys:
            raise DboptError("an index needs at least one key")

    @property
    def label(self) -> str:
        text = f"{self.schema}.{self.table} ({', '.join(k.label for k in self.keys)})"
        if self.where:
            text += " WHERE " + " AND ".join(c.label for c in self.where)
        return text

    def default_name(self) -> str:
        base = "_".join([self.table] + [k.column for k in self.keys])
        digest = hashlib.blake2b(self.label.encode(), digest_size=3).hexdigest()
        return f"{base[:50]}_{digest}_idx"

    def create_sql(self, *, name: str | None = None, concurrently: bool = False) -> sql.Composed:
        parts = [sql.SQL("CREATE INDEX")]
        if concurrently:
            parts.append(sql.SQL("CONCURRENTLY"))
        if name:
            parts.append(sql.Identifier(name))
        parts.append(sql.SQL("ON {}.{} ({})").format(
            sql.Identifier(self.schema), sql.Identifier(self.table), sql.SQL(", ").join(k.render() for k in self.keys)))
        if self.where:
            parts.append(sql.SQL("WHERE ") + sql.SQL(" AND ").join(c.render() for c in self.where))
        return sql.SQL(" ").join(parts)

    def to_params(self) -> dict[str, Any]:
        return {"schema": self.schema, "table": self.table, "keys": [asdict(k) for k in self.keys],
                "where": [asdict(c) for c in self.where]}

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "IndexSpec":
        try:
            return cls(schema=str(params["schema"]), table=str(params["table"]),
                       keys=tuple(Key(**k) for k in params["keys"]),
                       where=tuple(Cond(**c) for c in params.get("where", [])))
        except (KeyError, TypeError) as exc:
            raise DboptError(f"not an index specification: {exc}") from None
