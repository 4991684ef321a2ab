"""Run the whole control plane on this machine: web (gunicorn), Celery worker and beat.

A small supervisor: starts the three, restarts one that dies (with backoff), and
stops them all on Ctrl-C or SIGTERM. With --prepare it first migrates, collects
static files, makes sure an admin user exists and syncs the beat schedule.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run web + worker + beat together (the embedded default's one command)."

    def add_arguments(self, parser):
        parser.add_argument("--prepare", action="store_true", help="migrate, collectstatic, ensure admin first")
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--web-workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))
        parser.add_argument("--worker-concurrency", type=int, default=2)
        parser.add_argument("--no-worker", action="store_true")
        parser.add_argument("--no-beat", action="store_true")

    def handle(self, *args, **opts):
        if not 0 < opts["port"] < 65536:
            raise CommandError(f"--port must be between 1 and 65535, got {opts['port']}")
        if opts["prepare"]:
            self.prepare()
        python = sys.executable
        commands = {"web": [python, "-m", "gunicorn", "-c", str(settings.BASE_DIR / "config" / "gunicorn.py"),
                            "--bind", f"{opts['host']}:{opts['port']}", "--workers", str(opts["web_workers"]),
                            "config.wsgi:application"]}
        if not opts["no_worker"]:
            commands["worker"] = [python, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO",
                                  "--concurrency", str(opts["worker_concurrency"]), "--hostname", "worker@%h"]
        if not opts["no_beat"]:
            commands["beat"] = [python, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
                                "--pidfile", ""]
        self.stdout.write(f"control plane on http://{opts['host']}:{opts['port']}/admin/  (Ctrl-C stops it)")
        self.stdout.flush()
        Supervisor(commands, self.stdout).run()

    def prepare(self) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        call_command("ensure_admin")
        call_command("sync_beat_schedule", verbosity=0)


class Supervisor:
    def __init__(self, commands: dict[str, list[str]], out):
        self.commands = commands
        self.out = out
        self.procs: dict[str, subprocess.Popen] = {}
        self.restarts: dict[str, list[float]] = {name: [] for name in commands}
        self.stopping = False

    def start(self, name: str) -> None:
        self.procs[name] = subprocess.Popen(self.commands[name], cwd=str(settings.BASE_DIR))
        self.out.write(f"[serve] started {name} (pid {self.procs[name].pid})")
        self.out.flush()

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for name in self.commands:
            self.start(name)
        while not self.stopping:
            time.sleep(0.5)
            for name, proc in list(self.procs.items()):
                if proc.poll() is not None and not self.stopping:
                    self._restart(name, proc.returncode)
        self._shutdown()

    def _restart(self, name: str, code: int) -> None:
        now = time.monotonic()
        recent = [t for t in self.restarts[name] if now - t < 60]
        self.restarts[name] = recent + [now]
        if len(recent) >= 5:
            self.out.write(f"[serve] {name} died 5 times in a minute (exit {code}); stopping everything")
            self.stopping = True
            return
        self.out.write(f"[serve] {name} exited with {code}; restarting in {len(recent) + 1}s")
        time.sleep(len(recent) + 1)
        self.start(name)

    def _stop(self, signum, frame) -> None:
        self.stopping = True

    def _shutdown(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
        self.out.write("[serve] stopped")
