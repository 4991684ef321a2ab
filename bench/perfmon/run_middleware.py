"""Request overhead of the perfmon middleware, through gunicorn, against bare Django and
django-prometheus, on the same views and in the same run.

    apt-get install apache2-utils        # ab, the load generator
    pip install -e '.[bench]'            # django-prometheus
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/cp_perfmon_bench \
    REDIS_URL=redis://127.0.0.1:6379/2 .venv/bin/python bench/perfmon/run_middleware.py

Three gunicorn servers (bare / perfmon / prometheus, 2 sync workers each) run side by
side; ab drives /bench/trivial and /bench/three (three queries) in short chunks that
alternate between them in a shuffled order, so the machine's other load falls on all
modes alike. Reported: requests per second (pooled, and the median of paired chunk
ratios) and server CPU time per request (user + system of the worker processes, the
steadier figure on a shared machine); the per-query overhead; whether the perfmon
buffer's totals equal the requests sent (exact across workers); and the rows
inserted/updated/deleted in the database while serving (must be zero).
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
            urllib.request.urlopen(base + "/bench/ready", timeout=1).read()
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

    return {"rps": grab("Requests per second"), "seconds": grab("Time taken for tests"),
            "complete": int(grab("Complete requests")), "failed": int(grab("Failed requests")),
            "non2xx": int(grab("Non-2xx responses"))}


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


def measure(args) -> dict:
    """All three servers up at once; short ab chunks alternate between them in a shuffled
    order, so the load of the machine falls on every mode alike."""
    prefixes = {mode: f"bench-{mode}-{uuid.uuid4().hex[:6]}" for mode in MODES}
    servers = {mode: start(mode, prefixes[mode], args.workers) for mode in MODES}
    acc = {mode: {view: {"cpu": 0.0, "requests": 0, "seconds": 0.0, "failed": 0} for view in VIEWS} for mode in MODES}
    paired: dict[str, dict[str, list[float]]] = {m: {v: [] for v in VIEWS} for m in ("perfmon", "prometheus")}
    try:
        for mode, (proc, base) in servers.items():
            for path in VIEWS.values():
                ab(base + path, args.warmup, args.concurrency)
        writes_before = db_writes()
        for rep in range(args.rounds):
            for view, path in VIEWS.items():
                chunk = {}
                for mode in random.sample(MODES, len(MODES)):
                    proc, base = servers[mode]
                    cpu_before = worker_cpu(proc)
                    stats = ab(base + path, args.requests, args.concurrency)
                    a = acc[mode][view]
                    a["cpu"] += worker_cpu(proc) - cpu_before
                    a["requests"] += stats["complete"]
                    a["seconds"] += stats["seconds"]
                    a["failed"] += stats["failed"] + stats["non2xx"]
                    chunk[mode] = stats["rps"]
                for mode in paired:
                    paired[mode][view].append(chunk[mode] / chunk["bare"])
            print(f"round {rep + 1}/{args.rounds}: " + "; ".join(
                f"{m} {v} {acc[m][v]['requests'] / acc[m][v]['seconds']:.0f} rps "
                f"{acc[m][v]['cpu'] / acc[m][v]['requests'] * 1e6:.0f} us" for m in MODES for v in VIEWS), flush=True)
        time.sleep(2.5)  # flushers run every second; PostgreSQL publishes table stats within a second
        writes = db_writes() - writes_before
        totals = {view: {"sent": args.warmup + acc["perfmon"][view]["requests"],
                         "in_buffer": buffer_count(prefixes["perfmon"], path)} for view, path in VIEWS.items()}
    finally:
        for proc, _base in servers.values():
            proc.terminate()
        for proc, _base in servers.values():
            proc.wait(20)
        for prefix in prefixes.values():
            clear_prefix(prefix)
    return {"acc": acc, "paired_throughput_ratios": paired, "db_writes_during_run": writes, "totals": totals}


def summarize(raw: dict) -> dict:
    acc = raw["acc"]
    pooled = {mode: {view: {"rps": a["requests"] / a["seconds"], "cpu_us": a["cpu"] / a["requests"] * 1e6,
                            "failed": a["failed"]}
                     for view, a in views.items()} for mode, views in acc.items()}
    out: dict = {"pooled": pooled}
    for mode in ("perfmon", "prometheus"):
        out[mode] = {view: {
            "throughput_vs_bare": pooled[mode][view]["rps"] / pooled["bare"][view]["rps"],
            "throughput_vs_bare_median_of_paired_chunks": statistics.median(raw["paired_throughput_ratios"][mode][view]),
            "extra_cpu_us_per_request": pooled[mode][view]["cpu_us"] - pooled["bare"][view]["cpu_us"],
        } for view in VIEWS}
        out[mode]["extra_cpu_us_per_query"] = (out[mode]["three"]["extra_cpu_us_per_request"]
                                               - out[mode]["trivial"]["extra_cpu_us_per_request"]) / 3
    out["perfmon"]["totals"] = raw["totals"]
    out["perfmon"]["totals_exact"] = all(t["sent"] == t["in_buffer"] for t in raw["totals"].values())
    out["db_rows_written_while_serving"] = raw["db_writes_during_run"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="requests per chunk")
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=10)
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
    raw = measure(args)
    summary = summarize(raw)
    print(json.dumps(summary, indent=2))
    Path(args.out).write_text(json.dumps({"args": vars(args), "summary": summary, "raw": raw}, indent=2))


if __name__ == "__main__":
    main()
