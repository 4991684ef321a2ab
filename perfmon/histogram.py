"""Fixed, roughly logarithmic latency buckets, so histograms from any number of
processes, hosts and minutes merge by adding counts, and any percentile can be
read back within the bucket resolution.

A histogram is a sequence of `N_BUCKETS` counts: bucket i holds durations in
(BOUNDS_MS[i-1], BOUNDS_MS[i]] milliseconds; the last bucket holds everything
above a minute.
"""
from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence

BOUNDS_MS: tuple[float, ...] = (
    0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750,
    1000, 1500, 2000, 3000, 5000, 7500, 10000, 15000, 20000, 30000, 60000,
)
N_BUCKETS = len(BOUNDS_MS) + 1
BUCKET_FIELDS: tuple[str, ...] = tuple(f"h{i:02d}" for i in range(N_BUCKETS))


def bucket_index(duration_ms: float) -> int:
    return bisect_left(BOUNDS_MS, duration_ms)


def merge(histograms: Iterable[Sequence[float]]) -> list[float]:
    total = [0.0] * N_BUCKETS
    for histogram in histograms:
        for i, count in enumerate(histogram):
            total[i] += count
    return total


def percentile(histogram: Sequence[float], q: float, max_ms: float | None = None) -> float | None:
    """The q-th percentile (0..100) in ms, interpolated inside its bucket; None when empty.
    With `max_ms` (the largest duration seen), the answer never exceeds it."""
    total = sum(histogram)
    if total <= 0:
        return None
    rank = total * q / 100.0
    seen = 0.0
    for i, count in enumerate(histogram):
        if count and seen + count >= rank:
            lower = BOUNDS_MS[i - 1] if i > 0 else 0.0
            upper = BOUNDS_MS[i] if i < len(BOUNDS_MS) else (max_ms or BOUNDS_MS[-1])
            value = lower + (upper - lower) * max(0.0, rank - seen) / count
            return min(value, max_ms) if max_ms else value
        seen += count
    return max_ms or BOUNDS_MS[-1]


def percentiles(histogram: Sequence[float], qs: Iterable[float] = (50, 90, 95, 99),
                max_ms: float | None = None) -> dict[str, float | None]:
    return {f"p{q:g}": percentile(histogram, q, max_ms) for q in qs}
