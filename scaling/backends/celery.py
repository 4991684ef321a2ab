"""Celery worker pool: workers as local processes, scaled by queue depth.

Each instance is `celery -A config worker` consuming `queue`, with the node name
`{group}-{slot}@host`. Health is a remote-control ping of that node; the queue's
depth (messages waiting in the broker) is a metric for the group's policies, e.g.
target tracking of queue_depth at 20 waiting messages per worker.
"""
from __future__ import annotations

import shlex
import socket
import sys
from typing import Any

from ..errors import BackendError
from .base import GroupSpec, HealthResult, InstanceInfo
from .process import ProcessBackend

DEFAULT_WORKER = ("{python} -m celery -A config worker --pool solo --queues {queue} "
                  "--hostname {group}-{slot}@%h --without-gossip --without-mingle --loglevel INFO")


class CeleryPoolBackend(ProcessBackend):
    features = frozenset({"instances", "health", "usage", "queue"})
    option_defaults: dict[str, Any] = {
        **ProcessBackend.option_defaults,
        "command": DEFAULT_WORKER,
        "queue": "controlplane",
        "ping_timeout": 1.0,
        "health_path": "",
    }

    needs_port = False

    def validate_options(self, options: dict[str, Any]) -> dict[str, Any]:
        merged = super().validate_options(options)
        if not merged["queue"]:
            raise BackendError("CeleryPoolBackend: queue is required")
        return merged

    def _argv(self, group: GroupSpec, slot: int, port: int) -> list[str]:
        # Plain replacement, not str.format: Celery's own %h and any braces stay as they are.
        command = group.options["command"]
        parts = command if isinstance(command, list) else shlex.split(command)
        values = {"{python}": sys.executable, "{queue}": group.options["queue"], "{group}": group.name,
                  "{slot}": str(slot)}
        out = []
        for part in parts:
            for key, value in values.items():
                part = str(part).replace(key, value)
            out.append(part)
        return out

    def start_instance(self, group: GroupSpec, *, slot: int) -> InstanceInfo:
        info = super().start_instance(group, slot=slot)
        node = f"{group.name}-{info.slot}@{socket.gethostname()}"
        return InstanceInfo(f"{node}#{info.meta['pid']}", node, info.slot, {**info.meta, "node": node})

    def _free_port(self, group: GroupSpec, first: int) -> int:
        return first  # no port is bound; the slot only names the worker

    def check_health(self, group: GroupSpec, instance: InstanceInfo) -> HealthResult:
        from config.celery import app

        if self._process(instance) is None:
            return HealthResult(False, "worker process is not running")
        node = instance.meta.get("node", instance.address)
        try:
            replies = app.control.ping(destination=[node], timeout=group.options["ping_timeout"])
        except Exception as exc:  # broker down: report it as the probe's result
            return HealthResult(False, f"ping {node}: {exc}"[:255])
        ok = any(node in reply for reply in replies)
        return HealthResult(ok, f"ping {node}: {'pong' if ok else 'no reply'}")

    def queue_depth(self, group: GroupSpec) -> float | None:
        """Messages waiting in the broker for the group's queue (not counting ones in flight)."""
        from config.celery import app

        try:
            with app.connection_for_read() as conn:
                declared = conn.default_channel.queue_declare(queue=group.options["queue"], passive=True)
                return float(declared.message_count)
        except Exception as exc:
            if "NOT_FOUND" in str(exc) or "no queue" in str(exc).lower():
                return 0.0
            raise BackendError(f"could not read the depth of queue {group.options['queue']}: {exc}") from exc

    def publish(self, group: GroupSpec, members: list[tuple[InstanceInfo, int]]) -> str:
        return ""
