"""Autoscaler bench: replay the traces of bench/scaling_traces.py through the product's
default policy and the HPA-style baseline, with the same code `manage.py scaling_replay`
runs, and check the issue's targets.

    .venv/bin/python bench/scaling_bench.py [--out var/bench/scaling]

Targets: over all traces, no more SLO-violation rows than the baseline and a geometric
mean of instance-hour ratios <= 0.95; no trace worse on both counts; on the noisy and
oscillating traces no more flaps than the baseline. Exit status 1 when one is missed.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from bench.scaling_traces import write_all  # noqa: E402
from scaling import replay  # noqa: E402

CAPACITY, WARMUP, TICK, LO, HI = 50.0, 120.0, 15.0, 1, 40


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="var/bench/scaling")
    parser.add_argument("--seeds", type=int, default=3, help="also replay this many reseeded variants")
    args = parser.parse_args()
    out = Path(args.out)
    paths = write_all(out / "traces")
    config = replay.ReplayConfig(capacity=CAPACITY, warmup=WARMUP, tick=TICK, min_instances=LO, max_instances=HI)
    print(f"capacity {CAPACITY:g} rps/instance, warm-up {WARMUP:g}s, tick {TICK:g}s, {LO}..{HI} instances; "
          f"baseline: HPA at 70 % utilization")
    print(f"{'trace':<12}{'rows':>6} | {'SLO rows hpa':>12}{'ours':>6} | {'inst-h hpa':>10}{'ours':>8}{'ratio':>7} | "
          f"{'events hpa':>10}{'ours':>6} | {'flaps hpa':>9}{'ours':>6} | {'secs':>5}")
    ratios, total_base, total_ours, problems = [], 0, 0, []
    for name, path in paths.items():
        rows = replay.read_trace(path)
        started = time.perf_counter()
        ours = replay.simulate(rows, *replay.default_replay_policies(CAPACITY, TICK, WARMUP), config, name="ours")
        base = replay.simulate(rows, *replay.hpa_baseline(CAPACITY, 0.7, TICK, WARMUP), config, name="hpa")
        elapsed = time.perf_counter() - started
        replay.write_desired(rows, ours.desired, out / f"{name}.desired.csv")
        ratio = ours.instance_hours / base.instance_hours
        ratios.append(ratio)
        total_base += base.slo_violation_rows
        total_ours += ours.slo_violation_rows
        print(f"{name:<12}{len(rows):>6} | {base.slo_violation_rows:>12}{ours.slo_violation_rows:>6} | "
              f"{base.instance_hours:>10.1f}{ours.instance_hours:>8.1f}{ratio:>7.3f} | {base.scale_events:>10}"
              f"{ours.scale_events:>6} | {base.flaps:>9}{ours.flaps:>6} | {elapsed:>5.1f}")
        if ratio > 1 and ours.slo_violation_rows > base.slo_violation_rows:
            problems.append(f"{name}: worse on both instance-hours and SLO violations")
        if name in {"noisy", "oscillating"} and ours.flaps > base.flaps:
            problems.append(f"{name}: {ours.flaps} flaps against the baseline's {base.flaps}")
    geomean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    print(f"SLO-violation rows, all traces: baseline {total_base}, ours {total_ours}; "
          f"geometric mean of instance-hour ratios {geomean:.3f}")
    if total_ours > total_base:
        problems.append("more SLO-violation rows than the baseline over all traces")
    if geomean > 0.95:
        problems.append(f"geometric mean of instance-hour ratios {geomean:.3f} > 0.95")
    print("targets met" if not problems else "targets missed:\n  " + "\n  ".join(problems))
    if args.seeds:
        print("the same traces with other random seeds (not tuned on):")
        for offset in range(1, args.seeds + 1):
            print("  " + other_seeds(config, 10 * offset))
    return 1 if problems else 0


def other_seeds(config: replay.ReplayConfig, offset: int) -> str:
    from bench.scaling_traces import TRACES

    ratios, base_rows, our_rows, worse, flaps = [], 0, 0, [], []
    for name, make in TRACES.items():
        rows = make(seed=make.__defaults__[0] + offset)
        ours = replay.simulate(rows, *replay.default_replay_policies(CAPACITY, TICK, WARMUP), config)
        base = replay.simulate(rows, *replay.hpa_baseline(CAPACITY, 0.7, TICK, WARMUP), config)
        ratios.append(ours.instance_hours / base.instance_hours)
        base_rows += base.slo_violation_rows
        our_rows += ours.slo_violation_rows
        if ratios[-1] > 1 and ours.slo_violation_rows > base.slo_violation_rows:
            worse.append(name)
        if name in {"noisy", "oscillating"}:
            flaps.append(f"{name} flaps {ours.flaps} vs {base.flaps}")
    geomean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    return (f"seed +{offset}: geomean {geomean:.3f}, SLO rows {our_rows} vs {base_rows}, worse on both: "
            f"{', '.join(worse) or 'none'}; {'; '.join(flaps)}")


if __name__ == "__main__":
    sys.exit(main())
