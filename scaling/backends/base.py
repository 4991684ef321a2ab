"""The contract every scaling backend meets.

Two families: backends that start and stop single instances (feature
"instances": local processes, Docker containers) and backends that set a
replica count and let an orchestrator place them (feature "replicas":
Kubernetes Deployments). Results are dataclasses; failures raise
`scaling.errors.BackendError` with a readable message, never a log line.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import BackendError


@dataclass(frozen=True)
class GroupSpec:
    """What a backend needs to know of a group: its name and its options (the
    backend's OPTIONS with the group's backend_options merged over them)."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InstanceInfo:
    instance_id: str
    address: str = ""
    slot: int = 0
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HealthResult:
    ok: bool
    detail: str
    latency_ms: float | None = None
    status: int | None = None


@dataclass(frozen=True)
class Usage:
    """Resource use of one instance. `cpu_seconds` is cumulative (user + system of the
    instance's whole process tree); the metrics reader turns deltas into percent.
    `memory_percent` is the memory pressure the instance runs under (for local
    processes, the host's, since they share it); `rss_bytes` its own resident memory."""

    cpu_seconds: float | None = None
    rss_bytes: int | None = None
    memory_percent: float | None = None


@dataclass(frozen=True)
class ReplicaStatus:
    desired: int
    ready: int
    instances: tuple[InstanceInfo, ...] = ()
    ready_ids: frozenset[str] = frozenset()


class ScalingBackend:
    """Base class. Subclasses declare `features` and implement the methods for them.

    features: "instances" (start_instance/stop_instance/is_alive), "replicas"
    (set_replicas/get_replicas), "health" (check_health), "usage" (usage),
    "upstream" (publish), "queue" (queue_depth).
    """

    features: frozenset[str] = frozenset()
    #: option name -> default; unknown options are refused.
    option_defaults: dict[str, Any] = {}
    required_options: tuple[str, ...] = ()

    def __init__(self, alias: str, options: dict[str, Any] | None = None):
        self.alias = alias
        self.options = self.validate_options(dict(options or {}))

    def validate_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """Defaults filled in; raises BackendError naming a bad or unknown option."""
        unknown = sorted(set(options) - set(self.option_defaults))
        if unknown:
            raise BackendError(f"{type(self).__name__}: unknown option(s) {', '.join(unknown)}; "
                               f"known: {', '.join(sorted(self.option_defaults))}")
        merged = {**self.option_defaults, **options}
        missing = [name for name in self.required_options if merged.get(name) in (None, "")]
        if missing:
            raise BackendError(f"{type(self).__name__}: option(s) {', '.join(missing)} required")
        return merged

    def spec(self, name: str, group_options: dict[str, Any] | None = None) -> GroupSpec:
        """The group's view of this backend: options validated with the group's overrides."""
        return GroupSpec(name, self.validate_options({**self.options, **(group_options or {})}))

    # "instances"
    def start_instance(self, group: GroupSpec, *, slot: int) -> InstanceInfo:
        """Start one instance in `slot` and return at once (it is "starting" until healthy).
        Raises BackendError when it cannot be started."""
        raise NotImplementedError

    def stop_instance(self, group: GroupSpec, instance: InstanceInfo) -> None:
        """Stop the instance gracefully, forcibly after a timeout. Stopping one that is
        already gone is not an error (safe to call twice)."""
        raise NotImplementedError

    def is_alive(self, group: GroupSpec, instance: InstanceInfo) -> bool:
        """Whether the instance still exists (a process, a running container)."""
        raise NotImplementedError

    # "replicas"
    def set_replicas(self, group: GroupSpec, count: int) -> ReplicaStatus:
        """Ask the orchestrator for `count` replicas; idempotent."""
        raise NotImplementedError

    def get_replicas(self, group: GroupSpec) -> ReplicaStatus:
        raise NotImplementedError

    # optional abilities
    def check_health(self, group: GroupSpec, instance: InstanceInfo) -> HealthResult:
        """One probe; never raises for an unhealthy instance, returns ok=False."""
        return HealthResult(True, "backend has no health check")

    def usage(self, group: GroupSpec, instance: InstanceInfo) -> Usage | None:
        return None

    def publish(self, group: GroupSpec, members: list[tuple[InstanceInfo, int]]) -> str:
        """Tell the load balancer the ready members and their weights; returns what was done."""
        return ""

    def queue_depth(self, group: GroupSpec) -> float | None:
        return None
