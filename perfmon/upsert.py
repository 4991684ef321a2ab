"""INSERT ... ON CONFLICT that adds (or replaces) counters in one statement, on
PostgreSQL and SQLite alike. Django's bulk_create can only overwrite on conflict;
the rollup needs `count = count + excluded.count`."""
from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models

from .schema import MAX_FIELDS

CHUNK_ROWS = 400


def upsert(model: type[models.Model], rows: Sequence[dict], *, key: Sequence[str], values: Sequence[str],
           replace: bool = False) -> int:
    """Write `rows` (dicts with the key and value fields). On a key conflict the value
    fields are added (max fields take the larger) or, with replace=True, overwritten."""
    if not rows:
        return 0
    table = connection.ops.quote_name(model._meta.db_table)
    columns = [*key, *values]
    quoted = [connection.ops.quote_name(c) for c in columns]
    greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"
    assignments = []
    for name in values:
        col = connection.ops.quote_name(name)
        if replace:
            assignments.append(f"{col} = EXCLUDED.{col}")
        elif name in MAX_FIELDS:
            assignments.append(f"{col} = {greatest}({table}.{col}, EXCLUDED.{col})")
        else:
            assignments.append(f"{col} = {table}.{col} + EXCLUDED.{col}")
    fields = [model._meta.get_field(c) for c in columns]
    placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
    conflict = ", ".join(connection.ops.quote_name(c) for c in key)
    written = 0
    with connection.cursor() as cursor:
        for start in range(0, len(rows), CHUNK_ROWS):
            chunk = rows[start:start + CHUNK_ROWS]
            params = [f.get_db_prep_save(row[f.name], connection) for row in chunk for f in fields]
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(quoted)}) VALUES {', '.join([placeholder] * len(chunk))} "
                f"ON CONFLICT ({conflict}) DO UPDATE SET {', '.join(assignments)}", params)
            written += len(chunk)
    return written
