"""The product under load: gunicorn (production settings, PostgreSQL, Redis) driven by wrk
from a second process on loopback, at 100 and 1000 connections, for a bounded time.

    python3 config/bootstrap.py bench load                  # its own database, cp_load_bench
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/cp_load_bench REDIS_URL=redis://127.0.0.1:6379/12 \\
        .venv/bin/python bench/load/run_load.py [--duration 10] [--connections 100,1000] [--workers N]

Targets: /healthz (the baseline: no database, no auth), three API reads with a token
(authentication, throttle and queries included), and the admin login page (a monitored,
template-rendered Django view). Prints requests/s, p50/p95/p99, errors and the ratio to
the baseline at the same concurrency; then rolls perfmon's buffer up and checks that it
counted every request the server served exactly once, against gunicorn's access log (wrk
does not count the requests still in flight when it stops; the server serves them).
Results go to bench/load/results.json.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

ACCESS_LOG = Path(os.environ.get("LOAD_ACCESS_LOG", "/tmp/cp-load-bench-access.log"))
GUNICORN_LOG = Path("/tmp/cp-load-bench-gunicorn.log")
TARGETS = [  # (label, path, needs the token)
    ("baseline /healthz", "/healthz", False),
    ("API alerts list", "/api/performance/alerts", True),
    ("API scaling overview", "/api/performance/scaling", True),
    ("API realtime metrics", "/api/performance/metrics/realtime", True),
    ("admin login page", "/admin/login/", False),
]


def raise_file_limit(connections: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, connections * 4 + 1024))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # inherited by wrk and gunicorn


def server_env(prefix: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "SECRET_KEY": "bench-load-" + secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": "127.0.0.1,localhost", "SECURE_HTTPS": "false", "DEBUG": "false",
        "METRICS_KEY_PREFIX": prefix, "LOG_LEVEL": "WARNING",
        # One token drives the whole load: the default 1200/min per user would turn it into 429s.
        "API_THROTTLE_USER": "100000000/min", "API_THROTTLE_ANON": "100000000/min",
        "STATIC_ROOT": os.environ.get("STATIC_ROOT", str(ROOT / "staticfiles")),
        # The server's own record of what it served: perfmon must match it exactly.
        "GUNICORN_ACCESS_LOG": str(ACCESS_LOG),
    })
    return env


def prepare(env: dict[str, str]) -> str:
    """Migrate the bench database, collect static files if needed, return a staff token."""
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    if not (Path(env["STATIC_ROOT"]) / "staticfiles.json").exists():
        subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env,
                       check=True)
    code = ("from django.contrib.auth import get_user_model; from rest_framework.authtoken.models import Token;"
            "u, _ = get_user_model().objects.get_or_create(username='load-bench', defaults={'is_staff': True});"
            "print(Token.objects.get_or_create(user=u)[0].key)")
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def start_server(env: dict[str, str], workers: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "config" / "gunicorn.py"),
                             "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--backlog", "2048",
                             "config.wsgi:application"], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=open(GUNICORN_LOG, "wb"))
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            if urllib.request.urlopen(base + "/healthz", timeout=1).status == 200:
                return proc, base
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"gunicorn did not start; see {GUNICORN_LOG}")


def drain(base: str) -> None:
    """Wait until the requests wrk left queued at its stop are served (a probe answers
    quickly), so they do not slow the next run down."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        start = time.monotonic()
        try:
            urllib.request.urlopen(base + "/healthz", timeout=30).read()
        except OSError:
            pass
        if time.monotonic() - start < 0.05:
            return
        time.sleep(0.5)


def served(paths: list[str]) -> dict[str, int]:
    counts = dict.fromkeys(paths, 0)
    for line in ACCESS_LOG.read_text(errors="replace").splitlines():
        parts = line.split('"')
        if len(parts) > 1 and len(parts[1].split()) == 3:
            path = parts[1].split()[1].split("?")[0]
            if path in counts:
                counts[path] += 1
    return counts


def wrk(url: str, connections: int, duration: int, token: str | None) -> dict:
    threads = min(connections, max(2, os.cpu_count() or 2))
    env = {**os.environ, "WRK_AUTH": f"Token {token}" if token else ""}
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s",
                          "--timeout", "10s", "-s", str(HERE / "report.lua"), url],
                         env=env, capture_output=True, text=True, check=True)
    line = [x for x in out.stdout.splitlines() if x.startswith("{")][-1]
    raw = json.loads(line)
    seconds = raw["duration_us"] / 1e6
    errors = raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["timeouts"] + raw["non_2xx"]
    return {"requests": raw["requests"], "rps": round(raw["requests"] / seconds, 1), "errors": errors,
            "error_detail": {k: raw[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts",
                                                 "non_2xx")},
            "p50_ms": raw["p50_us"] / 1000, "p95_ms": raw["p95_us"] / 1000, "p99_ms": raw["p99_us"] / 1000,
            "max_ms": raw["max_us"] / 1000}


def perfmon_counts(env: dict[str, str], routes: list[str]) -> dict[str, int]:
    """Roll perfmon's buffer up into the minute table (as the beat job does) and read the
    stored counts per route for this run's key prefix."""
    code = f"""
import json
from datetime import timedelta
from django.db.models import Sum
from django.utils import timezone
from perfmon.models import TrafficMinute
from perfmon.rollup import rollup_minutes
rollup_minutes(now=timezone.now() + timedelta(minutes=2))
rollup_minutes(now=timezone.now() + timedelta(minutes=2))  # a second run must add nothing
since = timezone.now() - timedelta(hours=1)
rows = TrafficMinute.objects.filter(kind="http", bucket__gte=since, route__in={routes!r})
print(json.dumps(dict(rows.values_list("route").annotate(n=Sum("count")).values_list("route", "n"))))
"""
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def clear_minutes(env: dict[str, str]) -> None:
    code = "from perfmon.models import TrafficMinute; TrafficMinute.objects.all().delete()"
    subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--connections", default="100,1000")
    parser.add_argument("--workers", type=int, default=0, help="gunicorn workers (default: config/gunicorn.py's)")
    args = parser.parse_args()
    for var in ("DATABASE_URL", "REDIS_URL"):
        if not os.environ.get(var):
            raise SystemExit(f"{var} is required (python3 config/bootstrap.py bench load sets both)")
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    levels = [int(c) for c in args.connections.split(",")]
    raise_file_limit(max(levels))
    prefix = f"pmload-{uuid.uuid4().hex[:8]}"
    env = server_env(prefix)
    token = prepare(env)
    clear_minutes(env)
    workers = args.workers or int(env.get("WEB_CONCURRENCY", min(4, (os.cpu_count() or 1) * 2)))
    ACCESS_LOG.unlink(missing_ok=True)
    server, base = start_server(env, workers)
    results: dict = {"machine": {"cpus": os.cpu_count(), "gunicorn_workers": workers, "duration_s": args.duration},
                     "runs": []}
    sent: dict[str, int] = {}
    try:
        for connections in levels:
            baseline = None
            for label, path, auth in TARGETS:
                warm = wrk(base + path, min(connections, 50), 2, token if auth else None)
                sent[path] = sent.get(path, 0) + warm["requests"]  # perfmon counts the warm-up too
                drain(base)
                run = wrk(base + path, connections, args.duration, token if auth else None)
                drain(base)
                run.update({"target": label, "path": path, "connections": connections})
                baseline = baseline or run
                run["rps_vs_baseline"] = round(run["rps"] / baseline["rps"], 3)
                run["p95_vs_baseline"] = round(run["p95_ms"] / baseline["p95_ms"], 2) if baseline["p95_ms"] else None
                results["runs"].append(run)
                print(f"{connections:>5} conn  {label:<22} {run['rps']:>8.0f} req/s ({run['rps_vs_baseline']:.2f}x)  "
                      f"p50 {run['p50_ms']:7.1f}  p95 {run['p95_ms']:7.1f}  p99 {run['p99_ms']:7.1f} ms  "
                      f"errors {run['errors']} {run['error_detail'] if run['errors'] else ''}", flush=True)
    finally:
        os.killpg(server.pid, 15)
        server.wait(30)
    time.sleep(1)
    for run in results["runs"]:  # wrk's own count of completed responses per route, against perfmon's
        sent[run["path"]] = sent.get(run["path"], 0) + run["requests"]
    paths = [p for _, p, _ in TARGETS]
    counted, log = perfmon_counts(env, paths), served(paths)
    results["counting"] = []
    ok = True
    for label, path, _ in TARGETS:
        got = counted.get(path, 0)
        row = {"path": path, "wrk_completed": sent.get(path, 0), "server_served": log[path], "perfmon_counted": got,
               "ok": got == log[path]}
        ok = ok and row["ok"]
        results["counting"].append(row)
        print(f"counted  {path:<34} served {log[path]:>8}  perfmon {got:>8}  {'exact' if row['ok'] else 'MISMATCH'}"
              f"  (wrk completed {row['wrk_completed']}; the rest were in flight when wrk stopped)")
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
