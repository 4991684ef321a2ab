"""Docker Engine: one container per instance, from an image, through the Docker SDK.

Containers carry the labels `controlplane.scaling.group` and `.slot`; the container
port is published on `host:base_port+slot`, health-checked over HTTP there, and the
ready members are written as an nginx upstream like the process backend does.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings

from ..errors import BackendError
from .base import GroupSpec, HealthResult, InstanceInfo, ScalingBackend
from .process import http_health, write_upstream

GROUP_LABEL = "controlplane.scaling.group"
SLOT_LABEL = "controlplane.scaling.slot"


class DockerBackend(ScalingBackend):
    features = frozenset({"instances", "health", "upstream"})
    required_options = ("image",)
    option_defaults: dict[str, Any] = {
        "image": "",
        "base_url": "unix:///var/run/docker.sock",
        "api_version": "1.43",
        "command": None,
        "environment": {},
        "container_port": 8000,
        "host": "127.0.0.1",
        "base_port": 8200,
        "network": "",
        "stop_timeout": 10,
        "health_path": "/healthz",
        "health_timeout": 2.0,
        "upstream_file": "",
        "upstream_name": "{group}",
        "reload_command": "",
        "reload_timeout": 30.0,
        "timeout": 30,
    }

    def __init__(self, alias: str, options: dict[str, Any] | None = None):
        super().__init__(alias, options)
        self._clients: dict[tuple, Any] = {}

    def _client(self, group: GroupSpec):
        import docker

        key = (group.options["base_url"], group.options["api_version"])
        if key not in self._clients:
            try:
                self._clients[key] = docker.DockerClient(base_url=key[0], version=key[1],
                                                         timeout=group.options["timeout"])
            except docker.errors.DockerException as exc:
                raise BackendError(f"Docker Engine at {key[0]}: {exc}") from exc
        return self._clients[key]

    def _errors(self):
        import docker
        import requests

        return docker.errors.APIError, docker.errors.DockerException, requests.RequestException

    def start_instance(self, group: GroupSpec, *, slot: int) -> InstanceInfo:
        o = group.options
        port = int(o["base_port"]) + slot
        name = f"cp-{group.name}-{slot}"
        kwargs: dict[str, Any] = {
            "name": name, "detach": True, "environment": {**o["environment"], "PORT": str(o["container_port"])},
            "labels": {GROUP_LABEL: group.name, SLOT_LABEL: str(slot)},
            "ports": {f"{o['container_port']}/tcp": (o["host"], port)},
        }
        if o["command"]:
            kwargs["command"] = o["command"]
        if o["network"]:
            kwargs["network"] = o["network"]
        try:
            container = self._client(group).containers.run(o["image"], **kwargs)
        except self._errors() as exc:
            raise BackendError(f"could not start a container of {o['image']} for group {group.name}: {exc}") from exc
        return InstanceInfo(container.id, f"{o['host']}:{port}", slot, {"name": name, "image": o["image"]})

    def stop_instance(self, group: GroupSpec, instance: InstanceInfo) -> None:
        import docker

        try:
            container = self._client(group).containers.get(instance.instance_id)
            container.stop(timeout=int(group.options["stop_timeout"]))
            container.remove()
        except docker.errors.NotFound:
            return
        except self._errors() as exc:
            raise BackendError(f"could not stop container {instance.instance_id[:12]}: {exc}") from exc

    def is_alive(self, group: GroupSpec, instance: InstanceInfo) -> bool:
        import docker

        try:
            return self._client(group).containers.get(instance.instance_id).status == "running"
        except docker.errors.NotFound:
            return False
        except self._errors() as exc:
            raise BackendError(f"could not inspect container {instance.instance_id[:12]}: {exc}") from exc

    def list_containers(self, group: GroupSpec) -> list[InstanceInfo]:
        """The group's containers as Docker sees them (for status and cleanup)."""
        try:
            found = self._client(group).containers.list(all=True, filters={"label": f"{GROUP_LABEL}={group.name}"})
        except self._errors() as exc:
            raise BackendError(f"could not list containers of group {group.name}: {exc}") from exc
        return [InstanceInfo(c.id, "", int(c.labels.get(SLOT_LABEL, 0)), {"status": c.status}) for c in found]

    def check_health(self, group: GroupSpec, instance: InstanceInfo) -> HealthResult:
        return http_health(instance.address, group.options["health_path"], group.options["health_timeout"])

    def publish(self, group: GroupSpec, members: list[tuple[InstanceInfo, int]]) -> str:
        template = group.options["upstream_file"] or str(Path(settings.VAR_DIR) / "scaling" / "upstream-{group}.conf")
        return write_upstream(Path(template.format(group=group.name)), group, members)
