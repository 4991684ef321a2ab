"""Policies: each one proposes a desired instance count from a `Context`.

- `ThresholdPolicy`: the original design's rules (up above / down below a value,
  one instance at a time; within the band no opinion). Totals (request rate, DB connections, queue depth) are
  compared per ready instance.
- `TargetTrackingPolicy`: HPA-style proportional control,
  desired = ceil(ready x value / target), no change within the tolerance band,
  instances still starting counted as idle when scaling up.
- `PredictivePolicy`: forecasts the group's total load at now + warm-up + one tick
  (robust trend plus a margin of 1.5 robust standard deviations of the recent load,
  a surge followed as it happens, and daily seasonality once a day of history
  exists) and proposes the count that serves it at the target, with a tolerance band
  against flapping; a floor under the reactive policies that never scales in by itself.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from bisect import bisect_left, bisect_right
from statistics import median
from typing import Any

from .decision import (
    ALL_METRICS,
    AVERAGE_METRICS,
    TOTAL_METRICS,
    Context,
    HistoryPoint,
    Proposal,
)

# The original design's thresholds: (scale up above, scale down below). Request rate is
# per minute and, like DB connections, per ready instance.
THRESHOLD_DEFAULTS: dict[str, tuple[float, float]] = {
    "cpu_percent": (70.0, 30.0),
    "memory_percent": (80.0, 40.0),
    "request_rate": (1000.0, 200.0),
    "response_time_p95_ms": (2000.0, 500.0),
    "response_time_avg_ms": (2000.0, 500.0),
    "db_connections": (15.0, 5.0),
    "queue_depth": (100.0, 10.0),
}
TARGET_METRICS = AVERAGE_METRICS + TOTAL_METRICS
DAY = 86400.0


class PolicyConfigError(ValueError):
    pass


def _number(params: dict[str, Any], key: str, default: float | None, *, positive: bool = True) -> float:
    value = params.get(key, default)
    if value is None:
        raise PolicyConfigError(f"{key} is required")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise PolicyConfigError(f"{key} must be a number, got {value!r}") from None
    if not math.isfinite(number) or (positive and number <= 0) or number < 0:
        raise PolicyConfigError(f"{key} must be a positive number, got {value!r}")
    return number


def _per_instance(ctx: Context, metric: str) -> float | None:
    value = ctx.metrics.get(metric)
    if value is None:
        return None
    if metric in TOTAL_METRICS:
        return value / ctx.group.ready if ctx.group.ready else None
    return value


@dataclass(frozen=True)
class ThresholdPolicy:
    metric: str
    up: float
    down: float
    step: int = 1
    floor: bool = False

    @property
    def name(self) -> str:
        return f"threshold:{self.metric}"

    def propose(self, ctx: Context) -> Proposal:
        current = ctx.group.current
        value = _per_instance(ctx, self.metric)
        if value is None:
            return Proposal(self.name, None, f"{self.metric} not measured")
        unit = " per instance" if self.metric in TOTAL_METRICS else ""
        if value > self.up:
            return Proposal(self.name, current + self.step, f"{self.metric} {value:.1f}{unit} above {self.up:g}")
        if value < self.down:
            return Proposal(self.name, current - self.step, f"{self.metric} {value:.1f}{unit} below {self.down:g}")
        # Within the band a rule has no opinion: it neither asks for nor vetoes a change.
        return Proposal(self.name, None, f"{self.metric} {value:.1f}{unit} within {self.down:g}..{self.up:g}")


@dataclass(frozen=True)
class TargetTrackingPolicy:
    metric: str
    target: float
    tolerance: float | None = None
    floor: bool = False

    @property
    def name(self) -> str:
        return f"target:{self.metric}"

    def propose(self, ctx: Context) -> Proposal:
        group, tol = ctx.group, self.tolerance if self.tolerance is not None else ctx.behavior.tolerance
        value = ctx.metrics.get(self.metric)
        if value is None:
            return Proposal(self.name, None, f"{self.metric} not measured")
        if group.ready == 0:
            if self.metric in TOTAL_METRICS and value > 0:
                return Proposal(self.name, math.ceil(value / self.target),
                                f"no ready instance; {self.metric} {value:.1f} at {self.target:g} each")
            return Proposal(self.name, None, "no ready instance to measure")
        usage = value / group.ready if self.metric in TOTAL_METRICS else value
        ratio = usage / self.target
        if abs(ratio - 1.0) <= tol:
            return Proposal(self.name, group.current, f"{self.metric} {usage:.1f} within {tol:.0%} of "
                                                      f"target {self.target:g}")
        if ratio > 1.0 and group.starting:
            # Starting instances count as idle: they will take a share of the load.
            counted = group.ready + group.starting
            diluted = usage * group.ready / (counted * self.target)
            if diluted <= 1.0 + tol:
                return Proposal(self.name, group.current, f"{self.metric} {usage:.1f} over target, but "
                                                          f"{group.starting} starting will absorb it")
            return Proposal(self.name, math.ceil(diluted * counted),
                            f"{self.metric} {usage:.1f} vs target {self.target:g}, {group.starting} starting")
        return Proposal(self.name, math.ceil(ratio * group.ready),
                        f"{self.metric} {usage:.1f} vs target {self.target:g} on {group.ready} ready")


@dataclass(frozen=True)
class PredictivePolicy:
    metric: str
    target: float
    trend_window_seconds: float = 300.0
    noise_z: float = 1.5
    volatility_window_seconds: float = 600.0
    burst_ratio: float = 0.5
    burst_gain: float = 1.0
    tolerance: float | None = None
    season_seconds: float = DAY
    season_window_seconds: float = 900.0
    min_points: int = 4
    floor: bool = True

    @property
    def name(self) -> str:
        return f"predictive:{self.metric}"

    def propose(self, ctx: Context) -> Proposal:
        horizon = ctx.behavior.warmup_seconds + ctx.behavior.tick_seconds
        forecast, how = forecast_load(_Series(ctx.history, self.metric), ctx.now, horizon, self)
        if forecast is None:
            return Proposal(self.name, None, how, floor=True)
        needed = math.ceil(max(forecast, 0.0) / self.target - 1e-9)
        tolerance = self.tolerance if self.tolerance is not None else ctx.behavior.tolerance
        current = ctx.group.current
        if needed != current and abs(forecast / (max(current, 1) * self.target) - 1) <= tolerance:
            # Within the tolerance band of what the group already has: no change either way,
            # so noise around a boundary does not flap the group.
            needed = current
        return Proposal(self.name, needed,
                        f"{how}: {forecast:.1f} expected in {horizon:.0f}s at {self.target:g} each", floor=True)


class _Series:
    """(t, load) reads of a time-ordered history, by time range (bisect, so each tick
    costs the windows it reads, not the whole history)."""

    def __init__(self, history: Sequence[HistoryPoint] | Sequence[tuple[float, float]], metric: str):
        self.history, self.metric = history, metric
        times = getattr(history, "times", None)  # decision.History keeps them as it grows
        self.times = times if times is not None else [p.t if isinstance(p, HistoryPoint) else p[0] for p in history]

    def between(self, start: float, end: float) -> list[tuple[float, float]]:
        lo, hi = bisect_left(self.times, start), bisect_right(self.times, end)
        out = []
        for p in self.history[lo:hi]:
            t, value = (p.t, p.total(self.metric)) if isinstance(p, HistoryPoint) else p
            if value is not None:
                out.append((t, value))
        return out

    def first_time(self) -> float | None:
        return self.times[0] if self.times else None


def forecast_load(points, now: float, horizon: float,
                  policy: PredictivePolicy) -> tuple[float | None, str]:
    """Forecast the total load at now + horizon from (t, load) points up to now.

    Trend: the median of pairwise slopes (Theil-Sen, robust to noise and spikes) over
    the trend window, anchored at the median level, plus `noise_z` robust standard
    deviations of the load over the volatility window. A burst (the latest reading
    more than `burst_ratio` above the trend) is assumed to go on rising by
    `burst_gain` times its jump. With more than a season of history, also yesterday's
    value at the same time of day scaled to today's level. The largest is returned
    (it is a floor: erring high costs a little capacity, erring low costs the SLO)."""
    series = points if isinstance(points, _Series) else _Series(list(points), policy.metric)
    recent = series.between(now - policy.trend_window_seconds, now)
    if len(recent) < policy.min_points:
        return None, f"{len(recent)} load samples in the trend window, {policy.min_points} needed"
    slope = _theil_sen(recent)
    t_mid = median(t for t, _ in recent)
    level = median(v - slope * (t - t_mid) for t, v in recent)  # the fitted level at t_mid
    # Margin for what the trend does not explain: the load's standard deviation over the
    # volatility window (noise, oscillation, bursts), so headroom follows how erratic the
    # load has been instead of being one fixed share for every workload.
    # Robust (median absolute deviation as a standard deviation), so one burst does not
    # inflate it while a sustained oscillation does.
    wide = [v for _, v in series.between(now - policy.volatility_window_seconds, now)]
    centre = median(wide)
    spread = 1.4826 * median(abs(v - centre) for v in wide)
    trend = level + slope * (now + horizon - t_mid) + policy.noise_z * spread
    # A burst: the latest reading far above the window's median is a surge in progress,
    # which a trend over the window sees too late; assume it goes on rising for a while.
    last, fitted_now = recent[-1][1], level + slope * (now - t_mid)
    if fitted_now > 0 and last > fitted_now * (1 + policy.burst_ratio):
        burst = last + policy.burst_gain * (last - fitted_now)
        if burst > trend:
            return burst, f"burst: {last:.1f} against a trend of {fitted_now:.1f}"
    seasonal = _seasonal(series, now, horizon, level + slope * (now - t_mid), policy)
    if seasonal is not None and seasonal > trend:
        return seasonal, "daily seasonality"
    return trend, f"trend {slope * 60:+.1f}/min per min"


def _theil_sen(points: Sequence[tuple[float, float]]) -> float:
    # Thin long windows so the pairwise median stays cheap on every tick.
    if len(points) > 60:
        step = len(points) / 60
        points = [points[int(i * step)] for i in range(60)]
    slopes = [(v2 - v1) / (t2 - t1) for i, (t1, v1) in enumerate(points)
              for t2, v2 in points[i + 1:] if t2 > t1]
    return median(slopes) if slopes else 0.0


def _seasonal(series: _Series, now: float, horizon: float, level_now: float,
              policy: PredictivePolicy) -> float | None:
    first = series.first_time()
    if first is None or now - first < policy.season_seconds + horizon:
        return None
    half = policy.season_window_seconds / 2

    def around(t: float) -> float | None:
        values = [v for _, v in series.between(t - half, t + half)]
        return median(values) if len(values) >= policy.min_points else None

    then_now = around(now - policy.season_seconds)
    then_future = around(now + horizon - policy.season_seconds)
    if not then_now or then_future is None:
        return None
    return level_now * then_future / then_now


def build_policy(kind: str, metric: str, params: dict[str, Any] | None = None):
    """A policy from its stored form; raises PolicyConfigError with a readable message."""
    params = dict(params or {})
    if metric not in ALL_METRICS:
        raise PolicyConfigError(f"unknown metric {metric!r}; expected one of {', '.join(ALL_METRICS)}")
    if kind == "threshold":
        up_default, down_default = THRESHOLD_DEFAULTS[metric]
        up, down = _number(params, "up", up_default), _number(params, "down", down_default, positive=False)
        if down >= up:
            raise PolicyConfigError(f"down ({down:g}) must be below up ({up:g})")
        step = int(_number(params, "step", 1))
        return ThresholdPolicy(metric, up, down, step)
    if kind in {"target", "predictive"} and metric not in TARGET_METRICS:
        raise PolicyConfigError(f"{kind} needs a metric that scales with instances "
                                f"({', '.join(TARGET_METRICS)}), not {metric!r}")
    if kind == "target":
        tolerance = params.get("tolerance")
        if tolerance is not None:
            tolerance = _number(params, "tolerance", None, positive=False)
            if tolerance >= 1:
                raise PolicyConfigError("tolerance must be below 1 (0.1 means 10 %)")
        return TargetTrackingPolicy(metric, _number(params, "target", None), tolerance)
    if kind == "predictive":
        return PredictivePolicy(metric, _number(params, "target", None),
                                trend_window_seconds=_number(params, "trend_window_seconds", 300.0),
                                noise_z=_number(params, "noise_z", 1.5, positive=False),
                                season_seconds=_number(params, "season_seconds", DAY))
    raise PolicyConfigError(f"unknown policy kind {kind!r}; expected threshold, target or predictive")


def default_policies() -> list[tuple[str, str, dict[str, Any]]]:
    """What a new group gets: the original design's threshold rules for CPU and memory,
    target tracking of CPU at 60 %, and a predictive floor on request rate."""
    return [
        ("threshold", "cpu_percent", {"up": 70, "down": 30}),
        ("threshold", "memory_percent", {"up": 80, "down": 40}),
        ("target", "cpu_percent", {"target": 60}),
        ("predictive", "request_rate", {"target": 600}),
    ]


def history_from_rows(rows: Sequence[tuple[float, int, dict[str, float]]]) -> list[HistoryPoint]:
    return [HistoryPoint(t, ready, values) for t, ready, values in rows]
