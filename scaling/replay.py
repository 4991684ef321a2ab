"""Trace replay: run the live decision code on a simulated clock over a load trace.

The trace is `t_seconds,requests_per_second`. Every `tick` seconds of simulated
time the autoscaler decides with `scaling.decision.decide` (the function the live
tick calls), seeing only rows at or before that moment (causal). Instances asked
for at T are ready at T + warm-up; a scale-down removes starting instances first.
Row i of the output is the count wanted after seeing rows 0..i.

Figures: SLO-violation share (rows whose load is above the ready capacity),
instance-hours (instances running or starting, integrated over the trace), scale
events, and flaps (a change that reverses the previous one within `flap_window`,
300 s by default: the HPA's own anti-flapping window).
"""
from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from .decision import Behavior, GroupView, History, HistoryPoint, Memory, Metrics, decide
from .errors import TraceError
from .policies import PredictivePolicy, TargetTrackingPolicy

HEADER = ("t_seconds", "requests_per_second")


@dataclass(frozen=True)
class ReplayConfig:
    capacity: float                 # requests per second one ready instance serves
    warmup: float = 60.0            # seconds from request to ready
    min_instances: int = 1
    max_instances: int = 10
    tick: float = 15.0
    initial: int | None = None      # instances at the start (ready); default min
    flap_window: float = 300.0   # a reversal within the HPA's stabilization window

    def validate(self) -> None:
        if not (self.capacity > 0 and math.isfinite(self.capacity)):
            raise TraceError(f"--capacity must be a positive number of requests per second, got {self.capacity}")
        if self.warmup < 0 or self.tick <= 0:
            raise TraceError("--warmup must be >= 0 and --tick > 0 seconds")
        if not 0 <= self.min_instances <= self.max_instances or self.max_instances < 1:
            raise TraceError(f"--min {self.min_instances} and --max {self.max_instances} do not make a range")
        if self.initial is not None and not self.min_instances <= self.initial <= self.max_instances:
            raise TraceError(f"--initial {self.initial} is outside {self.min_instances}..{self.max_instances}")


@dataclass(frozen=True)
class ReplayResult:
    name: str
    desired: tuple[int, ...]
    slo_violation_rows: int
    rows: int
    instance_hours: float
    scale_events: int
    flaps: int
    reasons: tuple[str, ...] = field(default=(), repr=False)
    violation_times: tuple[float, ...] = field(default=(), repr=False)

    @property
    def slo_violation_share(self) -> float:
        return self.slo_violation_rows / self.rows if self.rows else 0.0


def read_trace(source: str | Path | TextIO) -> list[tuple[float, float]]:
    """Rows of (t_seconds, requests_per_second); raises TraceError naming the bad line."""
    if isinstance(source, str | Path):
        try:
            text = Path(source).read_text()
        except OSError as exc:
            raise TraceError(f"cannot read trace {source}: {exc.strerror or exc}") from None
        handle: TextIO = io.StringIO(text)
    else:
        handle = source
    reader = csv.reader(handle)
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header[:2]) != HEADER:
        raise TraceError(f"line 1: expected the header {','.join(HEADER)}, got {','.join(header or []) or 'nothing'}")
    rows: list[tuple[float, float]] = []
    for line, record in enumerate(reader, start=2):
        if not record or all(not cell.strip() for cell in record):
            continue
        if len(record) < 2:
            raise TraceError(f"line {line}: expected 2 values, got {len(record)}")
        try:
            t, rps = float(record[0]), float(record[1])
        except ValueError:
            raise TraceError(f"line {line}: {record[0]!r}, {record[1]!r} are not both numbers") from None
        if not (math.isfinite(t) and math.isfinite(rps)) or rps < 0:
            raise TraceError(f"line {line}: values must be finite and the rate >= 0")
        if rows and t <= rows[-1][0]:
            raise TraceError(f"line {line}: t_seconds {t:g} does not increase (previous {rows[-1][0]:g})")
        rows.append((t, rps))
    if not rows:
        raise TraceError("the trace has no rows")
    return rows


def write_desired(rows: Sequence[tuple[float, float]], desired: Sequence[int], target: str | Path | TextIO) -> None:
    def _write(handle: TextIO) -> None:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["t_seconds", "desired"])
        for (t, _), n in zip(rows, desired, strict=True):
            writer.writerow([f"{t:g}", n])
    if isinstance(target, str | Path):
        with open(target, "w", newline="") as handle:
            _write(handle)
    else:
        _write(target)


class _Pool:
    """Simulated instances: each with the time it becomes ready."""

    def __init__(self, initial: int):
        self.ready_at: list[float] = [float("-inf")] * initial

    def size(self) -> int:
        return len(self.ready_at)

    def ready(self, t: float) -> int:
        return sum(1 for r in self.ready_at if r <= t)

    def resize(self, n: int, now: float, warmup: float) -> None:
        if n > len(self.ready_at):
            self.ready_at += [now + warmup] * (n - len(self.ready_at))
        elif n < len(self.ready_at):
            self.ready_at.sort()  # the newest (latest ready) go first
            del self.ready_at[n:]


def simulate(rows: Sequence[tuple[float, float]], policies: Sequence, behavior: Behavior, config: ReplayConfig,
             *, name: str = "policy") -> ReplayResult:
    """Replay `rows` through `decide`; see the module docstring."""
    config.validate()
    current = config.min_instances if config.initial is None else config.initial
    pool, memory = _Pool(current), Memory()
    history = History()
    desired_out: list[int] = []
    reasons: list[str] = []
    changes: list[tuple[float, int]] = []
    next_tick = rows[0][0]
    seen = -1
    violations: list[float] = []
    hours = 0.0
    for i, (t, rps) in enumerate(rows):
        while next_tick <= t:
            # The latest row at or before this tick: never a row after it.
            while seen + 1 < len(rows) and rows[seen + 1][0] <= next_tick:
                seen += 1
            load = rows[seen][1]
            ready = pool.ready(next_tick)
            metrics = Metrics(request_rate=load * 60,
                              cpu_percent=min(100.0, 100.0 * load / (ready * config.capacity)) if ready else None)
            history.append(HistoryPoint(next_tick, ready, metrics.as_dict()))
            view = GroupView(current, ready, pool.size() - ready, config.min_instances, config.max_instances)
            decision = decide(now=next_tick, group=view, metrics=metrics, policies=policies, behavior=behavior,
                              memory=memory, history=history)
            memory = decision.memory
            if decision.changed:
                changes.append((next_tick, decision.desired - current))
                reasons.append(f"{next_tick:g}s {current}->{decision.desired}: {decision.reason}")
                current = decision.desired
                pool.resize(current, next_tick, config.warmup)
            next_tick += config.tick
        desired_out.append(current)
        if rps > pool.ready(t) * config.capacity + 1e-9:
            violations.append(t)
        span = (rows[i + 1][0] - t) if i + 1 < len(rows) else (t - rows[i - 1][0] if i else config.tick)
        hours += pool.size() * span / 3600.0
    return ReplayResult(name, tuple(desired_out), len(violations), len(rows), round(hours, 4), len(changes),
                        _flaps(changes, config.flap_window), tuple(reasons), tuple(violations))


def _flaps(changes: Sequence[tuple[float, int]], window: float) -> int:
    flaps = 0
    for (t0, d0), (t1, d1) in zip(changes, changes[1:]):
        if (d0 > 0) != (d1 > 0) and t1 - t0 <= window:
            flaps += 1
    return flaps


def hpa_baseline(capacity: float, target_utilization: float = 0.7, tick: float = 15.0,
                 warmup: float = 60.0) -> tuple[list, Behavior]:
    """The Kubernetes HPA's default behaviour on request rate per instance: ratio of
    current to target utilization times ready instances, 10 % tolerance, starting
    instances idle on scale-up, up max(+4, +100 %) per 15 s, down to the highest
    recommendation of the last 300 s."""
    policy = TargetTrackingPolicy("request_rate", capacity * 60 * target_utilization)
    return [policy], Behavior(tick_seconds=tick, warmup_seconds=warmup)


# The product's policy for a trace when no group is named: reactive target tracking at
# 85 % of capacity under a predictive floor sized at 90 % (trend, bursts and volatility
# margin, see policies.PredictivePolicy), scaling up by up to +400 % per 15 s. It can run
# hotter than a reactive HPA because the floor provisions ahead of the load.
REACTIVE_UTILIZATION = 0.85
PREDICTIVE_UTILIZATION = 0.9


def default_replay_policies(capacity: float, tick: float = 15.0, warmup: float = 60.0) -> tuple[list, Behavior]:
    return ([TargetTrackingPolicy("request_rate", capacity * 60 * REACTIVE_UTILIZATION),
             PredictivePolicy("request_rate", capacity * 60 * PREDICTIVE_UTILIZATION)],
            Behavior(tick_seconds=tick, warmup_seconds=warmup, scale_up_limit_percent=400))


def summary_lines(results: Iterable[ReplayResult]) -> list[str]:
    lines = [f"{'policy':<28}{'SLO-violation share':>21}{'instance-hours':>16}{'scale events':>14}{'flaps':>7}"]
    for r in results:
        lines.append(f"{r.name:<28}{r.slo_violation_share:>20.2%} {r.instance_hours:>15.2f}{r.scale_events:>14}"
                     f"{r.flaps:>7}")
    return lines
