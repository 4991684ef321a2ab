"""Load traces for the autoscaler bench, made here (seeded, reproducible).

Each trace is rows of (t_seconds, requests_per_second) every 15 s:
  diurnal      two days of a daily cycle 150..1050 rps with 5 % noise
  spike        6 h at 200 rps with three sudden 10-minute spikes to 1200 rps
  ramp         4 h: 100 rps, a 90-minute climb to 1400, a plateau, a 60-minute fall
  noisy        6 h at 600 rps with 15 % Gaussian noise
  oscillating  6 h of 600 +- 250 rps with a 20-minute period
"""
from __future__ import annotations

import math
import random
from pathlib import Path

STEP = 15
DAY = 86400


def diurnal(seed: int = 1) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [(t, max(0.0, (150 + 900 * (0.5 - 0.5 * math.cos(2 * math.pi * (t % DAY) / DAY)))
                    * rng.gauss(1.0, 0.05))) for t in range(0, 2 * DAY, STEP)]


def spike(seed: int = 2) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    starts = [3600, 3 * 3600, 4.5 * 3600]
    rows = []
    for t in range(0, 6 * 3600, STEP):
        base = 200.0
        for s in starts:
            if s <= t < s + 600:
                base = 200 + 1000 * min(1.0, (t - s + STEP) / 60)   # reaches the peak within a minute
        rows.append((t, base * rng.gauss(1.0, 0.03)))
    return rows


def ramp(seed: int = 3) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    rows = []
    for t in range(0, 4 * 3600, STEP):
        if t < 1800:
            base = 100.0
        elif t < 1800 + 5400:
            base = 100 + 1300 * (t - 1800) / 5400
        elif t < 10800:
            base = 1400.0
        elif t < 14400:
            base = 1400 - 1300 * (t - 10800) / 3600
        else:
            base = 100.0
        rows.append((t, base * rng.gauss(1.0, 0.03)))
    return rows


def noisy(seed: int = 4) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [(t, max(0.0, 600 * rng.gauss(1.0, 0.15))) for t in range(0, 6 * 3600, STEP)]


def oscillating(seed: int = 5) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [(t, (600 + 250 * math.sin(2 * math.pi * t / 1200)) * rng.gauss(1.0, 0.03))
            for t in range(0, 6 * 3600, STEP)]


TRACES = {"diurnal": diurnal, "spike": spike, "ramp": ramp, "noisy": noisy, "oscillating": oscillating}


def write_all(directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, make in TRACES.items():
        path = directory / f"{name}.csv"
        with open(path, "w") as handle:
            handle.write("t_seconds,requests_per_second\n")
            for t, rps in make():
                handle.write(f"{t:g},{rps:.3f}\n")
        paths[name] = path
    return paths


if __name__ == "__main__":
    import sys

    for name, path in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "var/bench/traces")).items():
        print(name, path)
