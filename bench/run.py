"""Run the benchmarks (not part of the test run): `python3 config/bootstrap.py bench [NAME ...]`.

Each benchmark measures its baseline in the same run and prints ratios against it.
Every one that needs a database gets its own (created here on the PostgreSQL server
named by BENCH_POSTGRES, default the local one), so benchmarks never touch the
product's or the tests' data. Names, in the order they run:

    scaling      trace replay: the autoscaler against a faithful HPA-style baseline
    cdn          12-megapixel photographs: the image pipeline against naive Pillow, SSIM, bytes
    dbopt        a workload with planted missing indexes: advice, time before and after
    dashboard    GET /api/performance/dashboard with 30 days of data, computed and cached
    perfmon      middleware CPU per request (in-process) and the dashboard's range queries
    middleware   gunicorn + ab: bare Django vs perfmon vs django-prometheus (needs `ab`)
    instructions the same stacks' instructions per request under valgrind (needs valgrind)
    load         the product behind gunicorn under wrk at 100 and 1000 connections (needs `wrk`)
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/12")


def _db(name: str) -> dict[str, str]:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    return {"DATABASE_URL": f"{SERVER}/{name}", "REDIS_URL": REDIS}


BENCHES: dict[str, list[tuple[list[str], dict[str, str] | None]]] = {
    "scaling": [(["bench/scaling_bench.py"], None)],
    "cdn": [(["bench/cdn/run_images.py", "--images", "3", "--rounds", "2"], None),
            (["bench/cdn/run_images.py", "--real"], None)],
    "dbopt": [(["bench/dbopt_bench.py", "--server", f"{SERVER}/postgres"], None)],
    "dashboard": [(["bench/dashboard/run_api.py"], {"db": "cp_dashboard_bench"})],
    "perfmon": [(["bench/perfmon/run_micro.py"], {"db": "cp_perfmon_bench"}),
                (["bench/perfmon/run_dashboard.py"], {"db": "cp_perfmon_bench"})],
    "middleware": [(["bench/perfmon/run_middleware.py", "--requests", "3000", "--rounds", "8"],
                    {"db": "cp_perfmon_bench"})],
    "instructions": [(["bench/perfmon/run_instructions.py"], {"db": "cp_perfmon_bench"})],
    "load": [(["bench/load/run_load.py"], {"db": "cp_load_bench"})],
}


def main(names: list[str]) -> int:
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHES)}", file=sys.stderr)
        return 2
    failed = []
    for name in names or list(BENCHES):
        for args, needs in BENCHES[name]:
            if not (ROOT / args[0]).exists():
                print(f"== {name}: {args[0]} is not there; skipped", flush=True)
                continue
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            if needs:
                env.update(_db(needs["db"]))
            print(f"== {name}: {' '.join(args)}", flush=True)
            started = time.monotonic()
            code = subprocess.run([sys.executable, *args], cwd=ROOT, env=env).returncode
            print(f"== {name}: exit {code} after {time.monotonic() - started:.0f}s", flush=True)
            if code:
                failed.append(name)
    if failed:
        print(f"benchmarks that failed or missed a target: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
