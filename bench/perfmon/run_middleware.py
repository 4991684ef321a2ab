"""Request overhead of the perfmon middleware, through gunicorn, against bare Django and
django-prometheus, on the same views and in the same run.

    apt-get install apache2-utils        # ab, the load generator
    pip install -e '.[bench]'            # django-prometheus
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/cp_perfmon_bench \
    REDIS_URL=redis://127.0.0.1:6379/2 .venv/bin/python bench/perfmon/run_middleware.py

For each round, each mode (bare / perfmon / prometheus, in a shuffled order) gets a
fresh gunicorn with 2 sync workers; ab drives /bench/trivial and /bench/three (three
queries). Reported: requests per second and server CPU time per request (user +
system of the worker processes, the steadier figure on a shared machine), medians over
rounds; the per-query overhead; whether the buffer's totals equal the requests sent
(exact across workers); and the rows inserted/updated/deleted in the database while
the perfmon server ran (must be zero: nothing is written on the request path).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
MODES = ("bare", "perfmon", "prometheus")
VIEWS = {"trivial": "/bench/trivial", "three": "/bench/three"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def env_for(mode: str, prefix: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"DJANGO_SETTINGS_MODULE": "bench.perfmon.settings", "BENCH_MODE": mode, "DEBUG": "false",
                "SECRET_KEY": "bench-" + "k3y!Q9#zL7$wX2%" * 4, "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "SECURE_HTTPS": "false", "METRICS_KEY_PREFIX": prefix, "PYTHONPATH": str(ROOT),
                "DATABASE_CONN_MAX_AGE": "600"})
    return env


def start(mode: str, prefix: str, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
                             "--worker-class", "sync", "--log-level", "warning", "config.wsgi:application"],
                            cwd=ROOT, env=env_for(mode, prefix), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/bench/trivial", timeout=1).read()
            return proc, base
        except Exception:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"{mode} server did not start: {proc.stderr.read().decode()[-2000:]}")


def worker_cpu(proc: subprocess.Popen) -> float:
    total = 0.0
    for child in psutil.Process(proc.pid).children(recursive=True):
        times = child.cpu_times()
        total += times.user + times.system
    return total


def ab(url: str, requests: int, concurrency: int) -> dict:
    out = subprocess.run(["ab", "-q", "-n", str(requests), "-c", str(concurrency), url], capture_output=True,
                         text=True, check=True).stdout
    def grab(label):
        match = re.search(rf"{label}:\s+([\d.]+)", out)
        return float(match.group(1)) if match else 0.0
    return {"rps": grab("Requests per second"), "complete": int(grab("Complete requests")),
            "failed": int(grab("Failed requests")), "non2xx": int(grab("Non-2xx responses"))}


def db_writes() -> int:
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute("SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables")
        return int(row.fetchone()[0])


def buffer_count(prefix: str, route: str) -> int:
    import redis

    fields = redis.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True).hgetall(f"{prefix}:total")
    return int(sum(float(v) for k, v in fields.items()
                   if k.split("\x1f")[1:2] == [route] and k.startswith("http\x1f") and k.endswith("\x1f0")))


def clear_prefix(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)


def run_mode(mode: str, args) -> dict:
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    proc, base = start(mode, prefix, args.workers)
    result = {}
    try:
        sent = {}
        for name, path in VIEWS.items():
            ab(base + path, args.warmup, args.concurrency)
            sent[name] = args.warmup + 1 if name == "trivial" else args.warmup
        writes_before = db_writes()
        for name, path in VIEWS.items():
            cpu_before = worker_cpu(proc)
            stats = ab(base + path, args.requests, args.concurrency)
            cpu = worker_cpu(proc) - cpu_before
            stats["cpu_us_per_request"] = cpu / stats["complete"] * 1e6
            sent[name] += stats["complete"]
            result[name] = stats
        time.sleep(2.5)  # flushers run every second; PostgreSQL publishes table stats within a second
        result["db_writes_during_run"] = db_writes() - writes_before
        if mode == "perfmon":
            result["totals"] = {name: {"sent": sent[name], "in_buffer": buffer_count(prefix, path)}
                                for name, path in VIEWS.items()}
    finally:
        proc.terminate()
        proc.wait(20)
        clear_prefix(prefix)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(Path(__file__).with_name("results_middleware.json")))
    args = parser.parse_args()
    if not shutil.which("ab"):
        raise SystemExit("needs ab: apt-get install apache2-utils")
    for var in ("DATABASE_URL", "REDIS_URL"):
        if not os.environ.get(var):
            raise SystemExit(f"set {var}")
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True,
                   env=env_for("bare", "bench"))
    runs: dict[str, list[dict]] = {mode: [] for mode in MODES}
    for round_no in range(args.rounds):
        order = list(MODES)
        random.shuffle(order)
        for mode in order:
            runs[mode].append(run_mode(mode, args))
            print(f"round {round_no + 1} {mode}: " + ", ".join(
                f"{v} {runs[mode][-1][v]['rps']:.0f} rps {runs[mode][-1][v]['cpu_us_per_request']:.0f} us"
                for v in VIEWS), flush=True)
    summary = summarize(runs)
    print(json.dumps(summary, indent=2))
    Path(args.out).write_text(json.dumps({"args": vars(args), "summary": summary, "runs": runs}, indent=2))


def summarize(runs: dict[str, list[dict]]) -> dict:
    med = {mode: {view: {"rps": statistics.median(r[view]["rps"] for r in rs),
                         "cpu_us": statistics.median(r[view]["cpu_us_per_request"] for r in rs)}
                  for view in VIEWS} for mode, rs in runs.items()}
    out: dict = {"median": med}
    for mode in ("perfmon", "prometheus"):
        out[mode] = {
            view: {"throughput_vs_bare": med[mode][view]["rps"] / med["bare"][view]["rps"],
                   "extra_cpu_us_per_request": med[mode][view]["cpu_us"] - med["bare"][view]["cpu_us"]}
            for view in VIEWS}
        out[mode]["extra_cpu_us_per_query"] = (out[mode]["three"]["extra_cpu_us_per_request"]
                                               - out[mode]["trivial"]["extra_cpu_us_per_request"]) / 3
    out["perfmon"]["totals_exact"] = all(t["sent"] == t["in_buffer"] for r in runs["perfmon"]
                                         for t in r["totals"].values())
    out["db_writes_during_runs"] = {mode: [r["db_writes_during_run"] for r in rs] for mode, rs in runs.items()}
    return out


if __name__ == "__main__":
    main()
