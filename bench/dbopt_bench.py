"""dbopt bench: a shop workload with planted problems, the advisor's proposals, and the
workload time before and after applying them.

    .venv/bin/python bench/dbopt_bench.py [--server postgresql://postgres@127.0.0.1:5432/postgres]
                                          [--orders 400000] [--rounds 40]

It (re)creates its own database `cp_dbopt_bench` on that server, with pg_stat_statements
and hypopg. Planted: four missing indexes (an equality lookup, Django's case-insensitive
UPPER(email) lookup, a constant status filter with a sort, and an equality + range pair),
one unused and one redundant index, and a decoy: a query on a 50/50 column, where the
right advice is no index. The advisor costs plans with the real statements the workload
ran (their values), as the app's own slow-query samples would give it.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

import pglast  # noqa: E402
import psycopg  # noqa: E402
from django.test import override_settings  # noqa: E402

from dbopt import collectors, findings  # noqa: E402
from dbopt.advisor.engine import advise  # noqa: E402

DBNAME = "cp_dbopt_bench"

QUERIES = {
    "orders by customer": ("SELECT id, total FROM shop.orders WHERE customer_id = {}", lambda r: r.randrange(40000)),
    "customer by email (iexact)": ("SELECT id FROM shop.customers WHERE UPPER(email::text) = UPPER('{}')",
                                   lambda r: f"User{r.randrange(40000)}@Example.com"),
    "latest pending orders": ("SELECT id, customer_id FROM shop.orders WHERE status = '{}' "
                              "ORDER BY created_at DESC LIMIT 20", lambda r: "pending"),
    "account events since": ("SELECT count(*) FROM shop.events WHERE account_id = {} AND created_at >= "
                             "now() - interval '3 days'", lambda r: r.randrange(2000)),
    "decoy: gift orders": ("SELECT count(*) FROM shop.orders WHERE gift = {}", lambda r: r.choice(["true", "false"])),
}
PLANTED = {
    "orders by customer": lambda label: label == "shop.orders (customer_id)",
    "customer by email (iexact)": lambda label: label == "shop.customers (upper(email::text))",
    "latest pending orders": lambda label: label.startswith("shop.orders (") and "created_at" in label
    and ("status" in label),
    "account events since": lambda label: label == "shop.events (account_id, created_at)",
}


def setup(server: str, orders: int) -> str:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DBNAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DBNAME}")
    url = server.rsplit("/", 1)[0] + "/" + DBNAME
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in [
            "CREATE EXTENSION pg_stat_statements", "CREATE EXTENSION hypopg", "CREATE SCHEMA shop",
            "CREATE TABLE shop.customers (id bigserial PRIMARY KEY, email varchar(200) NOT NULL, name text)",
            "INSERT INTO shop.customers (email, name) SELECT 'user' || g || '@example.com', 'n' || g "
            "FROM generate_series(1, 40000) g",
            "CREATE TABLE shop.orders (id bigserial PRIMARY KEY, customer_id int NOT NULL, status varchar(20) NOT NULL,"
            " gift boolean NOT NULL, total numeric(10,2) NOT NULL, created_at timestamptz NOT NULL, note text)",
            f"INSERT INTO shop.orders (customer_id, status, gift, total, created_at, note) SELECT g % 40000, "
            f"CASE WHEN g % 100 = 0 THEN 'pending' ELSE 'shipped' END, g % 2 = 0, g % 500, "
            f"now() - (g || ' seconds')::interval, repeat('x', 60) FROM generate_series(1, {orders}) g",
            "CREATE TABLE shop.events (id bigserial PRIMARY KEY, account_id int NOT NULL, kind text NOT NULL, "
            "created_at timestamptz NOT NULL)",
            f"INSERT INTO shop.events (account_id, kind, created_at) SELECT g % 2000, 'k' || (g % 7), "
            f"now() - (g % 86400 * 30 || ' seconds')::interval FROM generate_series(1, {orders // 2}) g",
            # Planted: an index nothing uses, and one made redundant by a wider one.
            "CREATE INDEX orders_note_unused ON shop.orders (note)",
            "CREATE INDEX events_kind ON shop.events (kind)",
            "CREATE INDEX events_kind_created ON shop.events (kind, created_at)",
            "VACUUM ANALYZE",
            "SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)",
        ]:
            conn.execute(statement)
    return url


def run_workload(url: str, rounds: int, seed: int) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Each query `rounds` times with values from a seeded generator; per-query seconds,
    and the statements run (literal SQL, as samples)."""
    rnd = random.Random(seed)
    times: dict[str, float] = {}
    samples: dict[str, list[str]] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for name, (template, value) in QUERIES.items():
            # pg_stat_statements normalizes literals, so literal SQL groups like parameters would.
            started = time.perf_counter()
            for _ in range(rounds):
                statement = template.format(value(rnd))
                conn.execute(statement).fetchall()
                fp = pglast.fingerprint(statement)
                if len(samples.setdefault(fp, [])) < 3 and statement not in samples[fp]:
                    samples[fp].append(statement)
            times[name] = time.perf_counter() - started
    return times, samples


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--orders", type=int, default=400_000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args()
    try:
        return run(args)
    finally:
        if not args.keep:
            with psycopg.connect(args.server, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {DBNAME} WITH (FORCE)")


def run(args) -> int:
    t0 = time.perf_counter()
    url = setup(args.server, args.orders)
    print(f"setup: {args.orders} orders, {args.orders // 2} events, 40000 customers in {time.perf_counter() - t0:.1f} s")
    before, samples = run_workload(url, args.rounds, seed=1)

    settings = {"ADVISE_MIN_CALLS": 2, "UNUSED_INDEX_MIN_BYTES": 0}
    with override_settings(DBOPT=settings), psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        statements = collectors.statements(conn, 50)
        index_rows = collectors.indexes(conn)
        feats = collectors.features(conn)
        conn.execute("SET default_transaction_read_only = on")
        t1 = time.perf_counter()
        advice = advise(conn, statements=statements, samples=samples, index_rows=index_rows, hypopg=feats["hypopg"])
        advise_s = time.perf_counter() - t1
        index_found = findings.index_findings(index_rows, None, None)

    print(f"\nadvice ({advice.heavy_queries} heavy queries, regression check over {advice.regression_checked}, "
          f"{advise_s:.2f} s):")
    for p in advice.proposals:
        q = p.queries[0]
        print(f"  {p.spec.create_sql(name=p.spec.default_name(), concurrently=True).as_string(psycopg.adapt.Transformer())};")
        print(f"      cost {q['cost_before']} -> {q['cost_after']} ({q['reduction']:.0%} less), from {q['plan_source']}, "
              f"~{p.benefit_ms:.0f} ms saved of the workload's time")
    print("  rejected (first 8):")
    for r in advice.rejected[:8]:
        print(f"    {r.get('index', r.get('query', ''))[:70]}: {r['reason'][:90]}")
    for f in index_found:
        if f.subject.startswith("shop."):
            print(f"  [{f.kind}] {f.title}: {f.detail}")

    labels = [p.spec.label for p in advice.proposals]
    found = {name for name, match in PLANTED.items() if any(match(label) for label in labels)}
    decoy_ok = not any("gift" in label for label in labels)
    index_planted = {("unused_index", "shop.orders_note_unused"), ("duplicate_index", "shop.events_kind")}
    index_hits = {(f.kind, f.subject) for f in index_found} & index_planted

    with psycopg.connect(url, autocommit=True) as conn:
        t2 = time.perf_counter()
        for p in advice.proposals:
            conn.execute(p.spec.create_sql(name=p.spec.default_name(), concurrently=True))
        conn.execute("ANALYZE")
        build_s = time.perf_counter() - t2
    after, _ = run_workload(url, args.rounds, seed=1)

    print(f"\nworkload ({args.rounds} runs of each query), seconds before -> after ({build_s:.1f} s to build):")
    for name in QUERIES:
        print(f"  {name:30s} {before[name]:8.3f} -> {after[name]:8.3f}  ({before[name] / max(after[name], 1e-9):6.1f}x)")
    total_b, total_a = sum(before.values()), sum(after.values())
    print(f"  {'total':30s} {total_b:8.3f} -> {total_a:8.3f}  ({total_b / max(total_a, 1e-9):6.1f}x)")
    print(f"\nplanted missing indexes found: {len(found)}/{len(PLANTED)} "
          f"({', '.join(sorted(set(PLANTED) - found)) or 'all'} missed)" if set(PLANTED) - found else
          f"\nplanted missing indexes found: {len(found)}/{len(PLANTED)}")
    print(f"planted unused/redundant indexes found: {len(index_hits)}/{len(index_planted)}")
    print(f"decoy (50/50 column) left without an index: {'yes' if decoy_ok else 'NO'}")
    print(f"planted problems found: {len(found) + len(index_hits)}/{len(PLANTED) + len(index_planted)}")
    return 0 if found == set(PLANTED) and decoy_ok and len(index_hits) == len(index_planted) else 1


if __name__ == "__main__":
    sys.exit(main())
