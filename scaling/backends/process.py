"""Local processes: the default backend, real processes on this machine.

Each instance runs `command` (default: this project's gunicorn) on port
`base_port + slot`, in a session of its own so it outlives the tick that started
it and is stopped with its whole process group. Instances are identified by pid
and process start time (a reused pid is not mistaken for ours). Health is an HTTP
GET of `health_path`; the ready members are written as an nginx `upstream` block
with weights by measured latency, then `reload_command` runs.
"""
from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psutil
from django.conf import settings

from ..errors import BackendError
from .base import GroupSpec, HealthResult, InstanceInfo, ScalingBackend, Usage

DEFAULT_COMMAND = ("{python} -m gunicorn -c config/gunicorn.py --bind {host}:{port} "
                   "config.wsgi:application")

# Children started by this process, so exited ones are reaped (no zombies).
_children: dict[int, subprocess.Popen] = {}


class ProcessBackend(ScalingBackend):
    features = frozenset({"instances", "health", "usage", "upstream"})
    needs_port = True
    option_defaults: dict[str, Any] = {
        "command": DEFAULT_COMMAND,
        "cwd": "",
        "env": {},
        "host": "127.0.0.1",
        "base_port": 8100,
        "max_port": 0,
        "health_path": "/healthz",
        "health_timeout": 2.0,
        "stop_timeout": 10.0,
        "log_dir": "",
        "upstream_file": "",
        "upstream_name": "{group}",
        "reload_command": "",
        "reload_timeout": 30.0,
    }

    def validate_options(self, options: dict[str, Any]) -> dict[str, Any]:
        merged = super().validate_options(options)
        if not isinstance(merged["command"], str | list) or not merged["command"]:
            raise BackendError("ProcessBackend: command must be a non-empty string or list")
        if self.needs_port and "{port}" not in str(merged["command"]):
            raise BackendError("ProcessBackend: command must contain {port}, the port the instance listens on")
        try:
            base = int(merged["base_port"])
        except (TypeError, ValueError):
            raise BackendError(f"ProcessBackend: base_port must be a port number, got {merged['base_port']!r}") from None
        if not 1024 <= base <= 65000:
            raise BackendError(f"ProcessBackend: base_port must be between 1024 and 65000, got {base}")
        merged["base_port"] = base
        merged["max_port"] = int(merged["max_port"] or 0)
        if merged["max_port"] and merged["max_port"] < base:
            raise BackendError("ProcessBackend: max_port is below base_port")
        if not isinstance(merged["env"], dict):
            raise BackendError("ProcessBackend: env must be a mapping of variable names to values")
        for key in ("health_timeout", "stop_timeout", "reload_timeout"):
            if not isinstance(merged[key], int | float) or merged[key] <= 0:
                raise BackendError(f"ProcessBackend: {key} must be a positive number of seconds")
        return merged

    # -- paths and commands
    def _format(self, template: str, group: GroupSpec, slot: int, port: int) -> str:
        return template.format(python=sys.executable, host=group.options["host"], port=port, slot=slot,
                               group=group.name)

    def _argv(self, group: GroupSpec, slot: int, port: int) -> list[str]:
        command = group.options["command"]
        parts = command if isinstance(command, list) else shlex.split(command)
        return [self._format(str(part), group, slot, port) for part in parts]

    def _var(self) -> Path:
        return Path(settings.VAR_DIR) / "scaling"

    def upstream_path(self, group: GroupSpec) -> Path:
        template = group.options["upstream_file"] or str(self._var() / "upstream-{group}.conf")
        return Path(template.format(group=group.name))

    # -- instances
    def start_instance(self, group: GroupSpec, *, slot: int) -> InstanceInfo:
        """Start the command on the first free port at or after base_port + slot."""
        port = self._free_port(group, group.options["base_port"] + slot)
        slot = port - group.options["base_port"]
        argv = self._argv(group, slot, port)
        log_dir = Path(group.options["log_dir"] or self._var() / "logs")
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"{group.name}-{port}.log"
        env = {**os.environ, **{str(k): str(v) for k, v in group.options["env"].items()},
               "PORT": str(port), "SCALING_GROUP": group.name, "SCALING_SLOT": str(slot)}
        cwd = group.options["cwd"] or str(settings.BASE_DIR)
        try:
            with open(log_path, "ab") as log:
                proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            raise BackendError(f"could not start {argv[0]!r} for group {group.name}: {exc}") from exc
        _children[proc.pid] = proc
        try:
            created = psutil.Process(proc.pid).create_time()
        except psutil.NoSuchProcess:
            created = 0.0
        address = f"{group.options['host']}:{port}"
        return InstanceInfo(f"{address}#{proc.pid}", address, slot,
                            {"pid": proc.pid, "port": port, "create_time": created, "log": str(log_path),
                             "argv": argv})

    def _free_port(self, group: GroupSpec, first: int) -> int:
        last = group.options["max_port"] or min(group.options["base_port"] + 999, 65535)
        for port in range(first, last + 1):
            with socket.socket() as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind((group.options["host"], port))
                except OSError:
                    continue
                return port
        raise BackendError(f"no free port for group {group.name} between {first} and {last}")

    def _process(self, instance: InstanceInfo) -> psutil.Process | None:
        pid = instance.meta.get("pid")
        if not pid:
            return None
        _reap()
        try:
            proc = psutil.Process(int(pid))
            if instance.meta.get("create_time") and abs(proc.create_time() - instance.meta["create_time"]) > 1:
                return None  # the pid was reused by an unrelated process
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except psutil.Error:
            return None

    def is_alive(self, group: GroupSpec, instance: InstanceInfo) -> bool:
        return self._process(instance) is not None

    def stop_instance(self, group: GroupSpec, instance: InstanceInfo) -> None:
        """SIGTERM to the instance's process group, SIGKILL after stop_timeout. Gone already: fine."""
        proc = self._process(instance)
        if proc is None:
            return
        pid = proc.pid
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        except PermissionError as exc:
            raise BackendError(f"not allowed to stop pid {pid} of group {group.name}: {exc}") from exc
        deadline = time.monotonic() + group.options["stop_timeout"]
        while time.monotonic() < deadline:
            if self._process(instance) is None:
                break
            time.sleep(0.05)
        else:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        child = _children.pop(pid, None)
        if child is not None:
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    # -- health, usage
    def check_health(self, group: GroupSpec, instance: InstanceInfo) -> HealthResult:
        if self._process(instance) is None:
            return HealthResult(False, "process is not running")
        return http_health(instance.address, group.options["health_path"], group.options["health_timeout"])

    def usage(self, group: GroupSpec, instance: InstanceInfo) -> Usage | None:
        proc = self._process(instance)
        if proc is None:
            return None
        cpu, rss = 0.0, 0
        for member in [proc, *_children_of(proc)]:
            try:
                times = member.cpu_times()
                cpu += times.user + times.system
                rss += member.memory_info().rss
            except psutil.Error:
                continue
        # Instances share this host's memory: pressure is the host's, not one process's share.
        return Usage(cpu_seconds=cpu, rss_bytes=rss, memory_percent=psutil.virtual_memory().percent)

    # -- load balancer
    def publish(self, group: GroupSpec, members: list[tuple[InstanceInfo, int]]) -> str:
        """Write the nginx upstream block atomically, then run reload_command if set."""
        return write_upstream(self.upstream_path(group), group, members)


def write_upstream(path: Path, group: GroupSpec, members: list[tuple[InstanceInfo, int]]) -> str:
    """Write `upstream <name> { server ... weight=N; }` if it changed; run reload_command after.
    Raises BackendError when the reload fails (the file is written either way)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = render_upstream(group.options["upstream_name"].format(group=group.name), members)
    if path.exists() and path.read_text() == text:
        return f"{path} unchanged"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    command = group.options["reload_command"]
    if not command:
        return f"wrote {path}"
    argv = command if isinstance(command, list) else shlex.split(command.format(file=path, group=group.name))
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=group.options["reload_timeout"])
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackendError(f"wrote {path}, but the reload command failed: {exc}") from exc
    if done.returncode != 0:
        raise BackendError(f"wrote {path}, but the reload command exited {done.returncode}: "
                           f"{(done.stderr or done.stdout).strip()[:300]}")
    return f"wrote {path} and reloaded"


def http_health(address: str, path: str, timeout: float) -> HealthResult:
    url = f"http://{address}{path}"
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read(1024)
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        return HealthResult(False, f"GET {url}: {getattr(exc, 'reason', exc)}"[:255])
    latency = (time.perf_counter() - started) * 1000
    return HealthResult(200 <= status < 400, f"GET {path} -> {status}", round(latency, 2), status)


def render_upstream(name: str, members: list[tuple[InstanceInfo, int]]) -> str:
    lines = [f"# Written by the control plane's autoscaler for group {name}; do not edit.",
             f"upstream {name} {{"]
    for instance, weight in members:
        lines.append(f"    server {instance.address} weight={weight};")
    if not members:
        # nginx refuses an empty upstream; a down server keeps the file valid.
        lines.append("    server 127.0.0.1:9 down;")
    lines.append("}")
    return "\n".join(lines) + "\n"


def latency_weights(latencies: list[float | None], scale: int = 10) -> list[int]:
    """Weights 1..scale inversely proportional to latency; unknown latency gets the middle."""
    known = [lat for lat in latencies if lat]
    if not known:
        return [scale] * len(latencies)
    fastest = min(known)
    return [max(1, min(scale, round(scale * fastest / lat))) if lat else max(1, scale // 2)
            for lat in latencies]


def _children_of(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return proc.children(recursive=True)
    except psutil.Error:
        return []


def _reap() -> None:
    for pid, child in list(_children.items()):
        if child.poll() is not None:
            _children.pop(pid, None)
