"""A scratch schema of our own inside the test database, with pg_stat_statements and
hypopg created there. pg_stat_statements is cluster-wide: everything here filters by
this database's dbid, and resets only this database's statistics."""
from __future__ import annotations

import uuid

import psycopg
import pytest
from django.db import connection

from tests.support import need_postgres


def _conninfo() -> dict:
    s = connection.settings_dict
    return {k: v for k, v in {"dbname": s["NAME"], "user": s.get("USER") or None, "password": s.get("PASSWORD") or None,
                              "host": s.get("HOST") or None, "port": s.get("PORT") or None}.items() if v}


class Scratch:
    def __init__(self, conn: psycopg.Connection, schema: str):
        self.conn = conn
        self.schema = schema

    def run(self, sql: str, params=None):
        return self.conn.execute(sql.replace("S.", f"{self.schema}."), params)

    def reset_statements(self) -> None:
        self.conn.execute("""SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database
                             WHERE datname = current_database()), 0)""")

    def index_names(self, table: str) -> set[str]:
        return {r[0] for r in self.conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = %s", (self.schema, table))}


@pytest.fixture
def scratch(db):
    need_postgres()
    conn = psycopg.connect(autocommit=True, **_conninfo())
    conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    conn.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
    schema = f"dbopt_{uuid.uuid4().hex[:8]}"
    conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield Scratch(conn, schema)
    finally:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
        conn.close()


@pytest.fixture
def orders(scratch):
    """50 000 orders: customer_id selective (5 000 values), flag 50/50, status skewed
    (98 % 'done', 2 % 'pending'), email unique per row."""
    scratch.run("""CREATE TABLE S.orders (id bigserial PRIMARY KEY, customer_id int NOT NULL, flag int NOT NULL,
                   status varchar(20) NOT NULL, email varchar(200) NOT NULL, created_at timestamptz NOT NULL,
                   note text)""")
    scratch.run("""INSERT INTO S.orders (customer_id, flag, status, email, created_at, note)
                   SELECT g % 5000, g % 2, CASE WHEN g % 50 = 0 THEN 'pending' ELSE 'done' END,
                          'user' || g || '@example.com', now() - g * interval '1 minute', repeat('x', 40)
                   FROM generate_series(1, 50000) g""")
    scratch.run("ANALYZE S.orders")
    return scratch
