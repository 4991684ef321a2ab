"""Server CPU per request as instructions counted by valgrind, the figure that a shared,
noisy machine cannot move: bare Django vs the full perfmon middleware vs
django-prometheus, on the same views as run_middleware.py.

    apt-get install valgrind
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/cp_perfmon_bench \
    REDIS_URL=redis://127.0.0.1:6379/2 .venv/bin/python bench/perfmon/run_instructions.py

Each stack is a real Django WSGI handler built from the bench settings (every middleware
of the project, the URL resolver, sessions, the ORM against PostgreSQL), called in
process: what gunicorn adds around it (socket, HTTP parsing) is the same for every stack.
The perfmon stack flushes its counts to Redis every 1,000 requests inside the measured
loop (a worker serving 1,000 requests/s flushes once a second), so the flush is paid for.

A child process serves no requests after its warm-up, then 2N, under
`valgrind --tool=callgrind`: the difference is the instructions of 2N requests with
start-up and warm-up cancelled out (two children run at a time: counts do not depend
on the load). Instructions become microseconds at the bare stack's own rate (user CPU
time / instructions of the same loop run natively, in this run; valgrind counts user
space only, and the kernel's share of a request is the same for every stack).
The flush (with the live-settings check that comes with it) is charged once per 1,000
requests, as a process serving 1,000 requests a second pays it. After the warm-up the
heap is frozen (`gc.freeze()`, every stack alike): collections still run and count, but
a full one no longer rescans the start-up heap at a moment that falls inside the measured
window in one run and outside it in the next.
"""
from __future__ import annotations

import argparse
import gc
import io
import json
import os
import re
import resource
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STACKS = ("bare", "perfmon", "prometheus")
VIEWS = {"trivial": "/bench/trivial", "three": "/bench/three"}
FLUSH_EVERY = 1000


def child(stack: str, view: str, requests: int) -> None:
    """Build the stack's handler, warm it, then serve `requests` requests; print the user CPU time."""
    os.environ["BENCH_MODE"] = stack
    os.environ["BENCH_FLUSH_THREAD"] = "false"  # flushed in the loop below instead, so it is counted
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    from perfmon.recorder import get_recorder

    handler, recorder = WSGIHandler(), get_recorder()
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": VIEWS[view], "SCRIPT_NAME": "", "QUERY_STRING": "",
               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "HTTP_HOST": "127.0.0.1",
               "REMOTE_ADDR": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.0", "HTTP_USER_AGENT": "ApacheBench/2.3",
               "HTTP_ACCEPT": "*/*", "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
               "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0)}

    def start_response(status, headers, exc_info=None):
        return None

    def serve(n: int) -> None:
        for i in range(n):
            response = handler({**environ, "wsgi.input": io.BytesIO(b"")}, start_response)
            b"".join(response)
            response.close()
            if i % FLUSH_EVERY == FLUSH_EVERY - 1:
                recorder.flush()

    serve(300)
    recorder.flush()  # the first flush connects to Redis and loads the script: start-up, not per request
    # The warmed heap (Django, the URLconf, the ORM's caches: a few hundred thousand objects)
    # is frozen, so a full collection scans only what the requests left behind. Without it,
    # whether one full collection of the whole heap (tens of millions of instructions) lands
    # inside the measured window or not decided the three-query figure: 64 k to 106 k extra
    # instructions per request for the same code in runs an hour apart.
    gc.collect()
    gc.freeze()
    start = resource.getrusage(resource.RUSAGE_SELF).ru_utime
    serve(requests)
    print(json.dumps({"user_cpu_seconds": resource.getrusage(resource.RUSAGE_SELF).ru_utime - start}), flush=True)


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"DJANGO_SETTINGS_MODULE": "bench.perfmon.settings", "DEBUG": "false", "PYTHONHASHSEED": "0",
                "SECRET_KEY": "bench-" + "k3y!Q9#zL7$wX2%" * 4, "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "SECURE_HTTPS": "false", "DATABASE_CONN_MAX_AGE": "600", "PYTHONPATH": str(ROOT),
                "METRICS_KEY_PREFIX": "bench-instructions"})
    return env


def instructions(stack: str, view: str, requests: int) -> int:
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                          sys.executable, __file__, "--child", stack, view, str(requests)],
                         cwd=ROOT, env=child_env(), capture_output=True, text=True, check=True)
    match = re.search(r"Collected\s*:\s*(\d+)", out.stderr)
    if not match:
        raise SystemExit(f"no instruction count from valgrind:\n{out.stderr[-2000:]}")
    return int(match.group(1))


def native_cpu(stack: str, view: str, requests: int) -> float:
    out = subprocess.run([sys.executable, __file__, "--child", stack, view, str(requests)], cwd=ROOT,
                         env=child_env(), capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["user_cpu_seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="the measured runs serve 2N requests")
    parser.add_argument("--out", default=str(Path(__file__).with_name("results_instructions.json")))
    parser.add_argument("--child", nargs=3, metavar=("STACK", "VIEW", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child[0], args.child[1], int(args.child[2]))
    sys.path.insert(0, str(ROOT))
    from bench.perfmon.prepare import prepare

    prepare("valgrind", "valgrind", {**child_env(), "BENCH_MODE": "bare"})
    n = args.requests
    runs = [(stack, view, count) for stack in STACKS for view in VIEWS for count in (0, 2 * n)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        counted = dict(zip(runs, pool.map(lambda run: instructions(*run), runs)))
    per_request = {stack: {view: (counted[stack, view, 2 * n] - counted[stack, view, 0]) / (2 * n) for view in VIEWS}
                   for stack in STACKS}
    # The bare stack's native rate turns instructions into microseconds on this machine.
    rate = {view: native_cpu("bare", view, 20 * n) / (20 * n) / per_request["bare"][view] for view in VIEWS}
    summary: dict = {"instructions_per_request": per_request, "us_per_million_instructions":
                     {view: r * 1e12 for view, r in rate.items()}}
    for stack in ("perfmon", "prometheus"):
        extra = {view: per_request[stack][view] - per_request["bare"][view] for view in VIEWS}
        per_query = (extra["three"] - extra["trivial"]) / 3
        summary[stack] = {
            "extra_instructions_per_request": extra,
            "extra_instructions_per_query": per_query,
            # Each view's extra at that view's own rate; a query's extra at the three-query view's
            # rate, the slower one (user code runs with colder caches after each round trip).
            "extra_cpu_us_per_request": {view: extra[view] * rate[view] * 1e6 for view in VIEWS},
            "extra_cpu_us_per_query": per_query * rate["three"] * 1e6,
        }
    print(json.dumps(summary, indent=2))
    Path(args.out).write_text(json.dumps({"args": {"requests": n}, "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
