"""The autoscaler's decision: pure functions on an explicit clock.

The live tick (scaling.services.autoscale_tick) and the trace replay
(scaling.replay) both call `decide()`; nothing here reads the database, the
wall clock or a backend. What must survive between ticks (recent
recommendations, recent changes) goes in and comes out as `Memory`.

Order of steps, as in the Kubernetes HPA controller: every policy proposes a
count; the largest proposal wins (for scale-up that is the most aggressive, for
scale-down the most conservative); predictive floors are applied; the result is
clamped to min..max; the scale-down stabilization window keeps the highest
recommendation of its window; cooldowns hold; rate limits cap the step.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

# Metrics a group is judged on. Averages are per ready instance; totals are for
# the whole group and policies divide them by the ready count.
AVERAGE_METRICS = ("cpu_percent", "memory_percent")
TOTAL_METRICS = ("request_rate", "db_connections", "queue_depth")
LATENCY_METRICS = ("response_time_p95_ms", "response_time_avg_ms")
ALL_METRICS = AVERAGE_METRICS + TOTAL_METRICS + LATENCY_METRICS


@dataclass(frozen=True)
class Metrics:
    """One reading of a group. `request_rate` is requests per minute (the original
    design's unit) for the whole group; None means not measured."""

    cpu_percent: float | None = None
    memory_percent: float | None = None
    request_rate: float | None = None
    response_time_p95_ms: float | None = None
    response_time_avg_ms: float | None = None
    db_connections: float | None = None
    queue_depth: float | None = None

    def get(self, name: str) -> float | None:
        return getattr(self, name)

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class HistoryPoint:
    t: float
    ready: int
    values: dict[str, float]

    def total(self, metric: str) -> float | None:
        """The metric as a load for the whole group (averages times ready instances)."""
        value = self.values.get(metric)
        if value is None:
            return None
        return value * self.ready if metric in AVERAGE_METRICS else value


class History(list):
    """A time-ordered list of HistoryPoint that keeps its times alongside, so policies
    can find a window by bisection on every tick of a long replay."""

    def __init__(self, points: Sequence[HistoryPoint] = ()):
        super().__init__(points)
        self.times = [p.t for p in points]

    def append(self, point: HistoryPoint) -> None:
        if self.times and point.t < self.times[-1]:
            raise ValueError("history points must be appended in time order")
        super().append(point)
        self.times.append(point.t)


@dataclass(frozen=True)
class GroupView:
    """What the decision sees of a group: the count asked for and the instances' states."""

    current: int
    ready: int
    starting: int
    min_instances: int
    max_instances: int


@dataclass(frozen=True)
class Behavior:
    """Timing and limits. Defaults are the HPA's (tolerance 10 %, scale-up max(+4, +100 %)
    per 15 s, scale-down to the highest recommendation of the last 300 s)."""

    tolerance: float = 0.1
    tick_seconds: float = 15.0
    warmup_seconds: float = 30.0
    scale_up_limit_instances: int = 4
    scale_up_limit_percent: int = 100
    scale_down_limit_percent: int = 100
    rate_limit_period_seconds: float = 15.0
    scale_down_stabilization_seconds: float = 300.0
    scale_up_cooldown_seconds: float = 0.0
    scale_down_cooldown_seconds: float = 0.0


@dataclass(frozen=True)
class Memory:
    """Carried between ticks: (t, recommendation) and (t, from, to) of changes."""

    recommendations: tuple[tuple[float, int], ...] = ()
    changes: tuple[tuple[float, int, int], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"recommendations": [list(r) for r in self.recommendations],
                "changes": [list(c) for c in self.changes]}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Memory:
        data = data or {}
        try:
            recs = tuple((float(t), int(n)) for t, n in data.get("recommendations", ()))
            changes = tuple((float(t), int(a), int(b)) for t, a, b in data.get("changes", ()))
        except (TypeError, ValueError):
            return cls()  # a corrupt state only costs the stabilization memory
        return cls(recs, changes)


@dataclass(frozen=True)
class Context:
    now: float
    group: GroupView
    metrics: Metrics
    history: Sequence[HistoryPoint]
    behavior: Behavior


@dataclass(frozen=True)
class Proposal:
    policy: str
    desired: int | None
    reason: str
    floor: bool = False


class PolicyLike(Protocol):
    name: str
    floor: bool

    def propose(self, ctx: Context) -> Proposal: ...


@dataclass(frozen=True)
class Decision:
    current: int
    desired: int
    recommendation: int
    reason: str
    proposals: tuple[Proposal, ...]
    steps: tuple[str, ...]
    memory: Memory = field(repr=False, default_factory=Memory)

    @property
    def changed(self) -> bool:
        return self.desired != self.current

    @property
    def direction(self) -> str:
        return "up" if self.desired > self.current else "down" if self.desired < self.current else "hold"

    def as_dict(self) -> dict[str, Any]:
        return {"current": self.current, "desired": self.desired, "recommendation": self.recommendation,
                "direction": self.direction, "reason": self.reason, "steps": list(self.steps),
                "proposals": [{"policy": p.policy, "desired": p.desired, "reason": p.reason, "floor": p.floor}
                              for p in self.proposals]}


def decide(*, now: float, group: GroupView, metrics: Metrics, policies: Sequence[PolicyLike],
           behavior: Behavior, memory: Memory, history: Sequence[HistoryPoint] = ()) -> Decision:
    """The count the group should run now, and why. Pure: same inputs, same answer."""
    ctx = Context(now, group, metrics, history, behavior)
    proposals = tuple(policy.propose(ctx) for policy in policies)
    steps: list[str] = []
    recommendation, reason = _combine(group.current, proposals, steps)
    recommendation = _clamp(recommendation, group, steps, "recommendation")
    window = behavior.scale_down_stabilization_seconds
    recs = tuple(r for r in memory.recommendations if now - r[0] < window) + ((now, recommendation),)
    desired = _stabilize(group.current, recommendation, recs, steps)
    desired = _cooldown(now, group.current, desired, memory.changes, behavior, steps)
    desired = _rate_limit(now, group.current, desired, memory.changes, behavior, steps)
    desired = _clamp(desired, group, steps, "result")
    horizon = max(window, behavior.rate_limit_period_seconds, behavior.scale_down_cooldown_seconds,
                  behavior.scale_up_cooldown_seconds)
    changes = tuple(c for c in memory.changes if now - c[0] < horizon)
    if desired != group.current:
        changes += ((now, group.current, desired),)
    return Decision(group.current, desired, recommendation, reason, proposals, tuple(steps),
                    Memory(recs, changes))


def _combine(current: int, proposals: Sequence[Proposal], steps: list[str]) -> tuple[int, str]:
    reactive = [p for p in proposals if p.desired is not None and not p.floor]
    floors = [p for p in proposals if p.desired is not None and p.floor]
    if not reactive and not floors:
        steps.append("no policy made a proposal (metrics missing or within bands): hold")
        return current, "no proposal"
    if reactive:
        # Largest wins: the most aggressive scale-up, and the most conservative scale-down.
        best = max(reactive, key=lambda p: p.desired)
    else:
        best = Proposal("none", current, "no reactive proposal: hold")
    recommendation, reason = best.desired, f"{best.policy}: {best.reason}"
    steps.append(f"largest reactive proposal {recommendation} ({best.policy})")
    if floors:
        floor = max(floors, key=lambda p: p.desired)
        if floor.desired > recommendation:
            steps.append(f"predictive floor {floor.desired} above it ({floor.policy})")
            recommendation, reason = floor.desired, f"{floor.policy}: {floor.reason}"
    return recommendation, reason


def _clamp(value: int, group: GroupView, steps: list[str], what: str) -> int:
    clamped = min(max(value, group.min_instances), group.max_instances)
    if clamped != value:
        steps.append(f"{what} {value} clamped to {clamped} (min {group.min_instances}, max {group.max_instances})")
    return clamped


def _stabilize(current: int, recommendation: int, recs: Sequence[tuple[float, int]],
               steps: list[str]) -> int:
    if recommendation >= current:
        return recommendation
    highest = max(n for _, n in recs)
    stabilized = min(current, highest)
    if stabilized != recommendation:
        steps.append(f"scale-down stabilization: highest recommendation in window is {highest}, "
                     f"so {stabilized} instead of {recommendation}")
    return stabilized


def _cooldown(now: float, current: int, desired: int, changes: Sequence[tuple[float, int, int]],
              behavior: Behavior, steps: list[str]) -> int:
    if not changes or desired == current:
        return desired
    since = now - changes[-1][0]
    wait = behavior.scale_up_cooldown_seconds if desired > current else behavior.scale_down_cooldown_seconds
    if since < wait:
        steps.append(f"cooldown: last change {since:.0f}s ago, {wait:.0f}s needed: hold at {current}")
        return current
    return desired


def _rate_limit(now: float, current: int, desired: int, changes: Sequence[tuple[float, int, int]],
                behavior: Behavior, steps: list[str]) -> int:
    period = behavior.rate_limit_period_seconds
    recent = [c for c in changes if now - c[0] < period]
    if desired > current:
        added = sum(b - a for _, a, b in recent if b > a)
        start = current - added
        limit = max(start + behavior.scale_up_limit_instances,
                    math.ceil(start * (1 + behavior.scale_up_limit_percent / 100)))
        if desired > limit:
            steps.append(f"scale-up rate limit: at most {limit} within {period:.0f}s")
            return max(limit, current)
    elif desired < current:
        removed = sum(a - b for _, a, b in recent if a > b)
        start = current + removed
        limit = math.ceil(start * (1 - behavior.scale_down_limit_percent / 100))
        if desired < limit:
            steps.append(f"scale-down rate limit: at least {limit} within {period:.0f}s")
            return min(limit, current)
    return desired
