"""Request overhead of the perfmon middleware, through gunicorn, against bare Django and
django-prometheus, on the same views and in the same run.

    apt-get install apache2-utils        # ab, the load generator
    pip install -e '.[bench]'            # django-prometheus
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/cp_perfmon_bench \
    REDIS_URL=redis://127.0.0.1:6379/2 .venv/bin/python bench/perfmon/run_middleware.py

Four gunicorn servers (bare, a second bare, perfmon, prometheus; 2 sync workers each) run
side by side and are started afresh every round; ab drives /bench/trivial and
/bench/three (three queries) in chunks that alternate between them in a shuffled order,
so the machine's other load falls on all of them alike. Reported: requests per second
and server CPU time per request (user + system of the worker processes, flusher thread
included: the steadier figure on a shared machine), pooled and as the median of the
per-round differences; the per-query overhead; the second bare server's difference from
the first, which is the noise floor; whether the perfmon buffer's totals equal the
requests sent in every round (exact across workers); and the rows inserted, updated or
deleted in the database while serving (must be zero).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
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


# Two servers run bare Django: the difference between them is the noise floor of one
# server instance (hash seed, memory layout, which core its workers and their PostgreSQL
# backends share), measured here at up to 80 us of CPU on the three-query view.
SERVERS = {"bare": "bare", "bare-copy": "bare", "perfmon": "perfmon", "prometheus": "prometheus"}


def start_all(prefixes: dict[str, str], workers: int) -> dict[str, tuple[subprocess.Popen, str]]:
    names = random.sample(list(SERVERS), len(SERVERS))
    return {name: start(SERVERS[name], prefixes[name], workers) for name in names}


def stop_all(servers: dict) -> None:
    for proc, _base in servers.values():
        proc.terminate()
    for proc, _base in servers.values():
        proc.wait(20)


def run_round(servers: dict, args, acc: dict, sent: dict) -> dict[str, dict[str, float]]:
    """Warm every server, then alternate ab chunks between them in a shuffled order per
    view. Returns this round's CPU us per request by server and view."""
    for name, (_proc, base) in servers.items():
        for view, path in VIEWS.items():
            sent[name][view] += ab(base + path, args.warmup, args.concurrency)["complete"]
    round_cpu = {name: {view: [0.0, 0] for view in VIEWS} for name in servers}
    for view, path in VIEWS.items():
        for name in random.sample(list(servers), len(servers)):
            proc, base = servers[name]
            cpu_before = worker_cpu(proc)
            stats = ab(base + path, args.requests, args.concurrency)
            cpu = worker_cpu(proc) - cpu_before
            a = acc[name][view]
            a["cpu"] += cpu
            a["requests"] += stats["complete"]
            a["seconds"] += stats["seconds"]
            a["failed"] += stats["failed"] + stats["non2xx"]
            sent[name][view] += stats["complete"]
            round_cpu[name][view] = cpu / stats["complete"] * 1e6
    return round_cpu


def measure(args) -> dict:
    """Each round starts fresh servers (bare twice, perfmon, prometheus) so no one
    instance's luck decides the result, warms them, runs every view on each in a shuffled
    order, checks the perfmon buffer's totals and stops them."""
    acc = {name: {view: {"cpu": 0.0, "requests": 0, "seconds": 0.0, "failed": 0} for view in VIEWS}
           for name in SERVERS}
    rounds, totals, writes = [], [], 0
    for rep in range(args.rounds):
        prefixes = {name: f"bench-{name}-{uuid.uuid4().hex[:6]}" for name in SERVERS}
        sent = {name: {view: 0 for view in VIEWS} for name in SERVERS}
        servers = start_all(prefixes, args.workers)
        try:
            writes_before = db_writes()
            rounds.append(run_round(servers, args, acc, sent))
            time.sleep(2.5)  # flushers run every second; PostgreSQL publishes table stats within a second
            writes += db_writes() - writes_before
            totals.append({view: {"sent": sent["perfmon"][view], "in_buffer": buffer_count(prefixes["perfmon"], path)}
                           for view, path in VIEWS.items()})
        finally:
            stop_all(servers)
            for prefix in prefixes.values():
                clear_prefix(prefix)
        print(f"round {rep + 1}/{args.rounds}: " + "; ".join(
            f"{name} {view} {rounds[-1][name][view]:.0f} us" for name in SERVERS for view in VIEWS), flush=True)
    return {"acc": acc, "rounds": rounds, "db_writes_during_run": writes, "totals": totals}


def summarize(raw: dict) -> dict:
    acc, rounds = raw["acc"], raw["rounds"]
    pooled = {name: {view: {"rps": a["requests"] / a["seconds"], "cpu_us": a["cpu"] / a["requests"] * 1e6,
                            "failed": a["failed"]}
                     for view, a in views.items()} for name, views in acc.items()}

    def per_round_extra(name: str, view: str) -> list[float]:
        return [r[name][view] - r["bare"][view] for r in rounds]

    out: dict = {"pooled": pooled}
    for name in ("bare-copy", "perfmon", "prometheus"):
        out[name] = {view: {
            "throughput_vs_bare": pooled[name][view]["rps"] / pooled["bare"][view]["rps"],
            "extra_cpu_us_per_request": pooled[name][view]["cpu_us"] - pooled["bare"][view]["cpu_us"],
            "extra_cpu_us_per_request_median_of_rounds": statistics.median(per_round_extra(name, view)),
        } for view in VIEWS}
        out[name]["extra_cpu_us_per_query"] = (out[name]["three"]["extra_cpu_us_per_request"]
                                               - out[name]["trivial"]["extra_cpu_us_per_request"]) / 3
    out["perfmon"]["totals_exact"] = all(t["sent"] == t["in_buffer"] for r in raw["totals"] for t in r.values())
    out["perfmon"]["requests_counted"] = sum(t["in_buffer"] for r in raw["totals"] for t in r.values())
    out["db_rows_written_while_serving"] = raw["db_writes_during_run"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per chunk")
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(Path(__file__).with_name("results_middleware.json")))
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from bench.perfmon.prepare import prepare

    prepare("ab", "apache2-utils", env_for("bare", "bench"))
    raw = measure(args)
    summary = summarize(raw)
    print(json.dumps(summary, indent=2))
    Path(args.out).write_text(json.dumps({"args": vars(args), "summary": summary, "raw": raw}, indent=2))


if __name__ == "__main__":
    main()
