"""Trace replay: causal, the live decision code on a simulated clock, clear errors."""
import io

import pytest

from scaling import replay
from scaling.errors import TraceError


def trace(values, step=15):
    return [(float(i * step), float(v)) for i, v in enumerate(values)]


CONFIG = replay.ReplayConfig(capacity=10, warmup=60, min_instances=1, max_instances=20, tick=15)


def test_replay_is_causal():
    rows = trace([10] * 40 + [150] * 40)
    changed = rows[:50] + [(t, 5.0) for t, _ in rows[50:]]
    policies, behavior = replay.default_replay_policies(10, 15, 60)
    a = replay.simulate(rows, policies, behavior, CONFIG)
    b = replay.simulate(changed, policies, behavior, CONFIG)
    assert a.desired[:50] == b.desired[:50]      # row i depends on rows 0..i only
    assert a.desired[49] > a.desired[39]         # and it did react to the load it saw


def test_hpa_baseline_follows_its_rules():
    rows = trace([10] * 4 + [1000] * 30 + [10] * 60)
    result = replay.simulate(rows, *replay.hpa_baseline(10, 0.7, 15, 60), CONFIG)
    first_up = next(i for i, n in enumerate(result.desired) if n > 2)
    assert result.desired[first_up] <= max(2 + 4, 2 * 2)   # scale-up limit: max(+4, +100 %) per 15 s
    peak = result.desired.index(20)
    drop = next(i for i in range(peak, len(rows)) if result.desired[i] < 20)
    assert (rows[drop][0] - rows[34][0]) >= 300 - 15       # held the peak for the 300 s window
    assert result.slo_violation_rows > 0 and result.instance_hours > 0 and result.scale_events >= 3


def test_output_has_one_row_per_input_row(tmp_path):
    rows = trace([5, 50, 500, 50, 5])
    result = replay.simulate(rows, *replay.default_replay_policies(10, 15, 60), CONFIG)
    out = io.StringIO()
    replay.write_desired(rows, result.desired, out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "t_seconds,desired" and len(lines) == 6 and lines[1].startswith("0,")


@pytest.mark.parametrize("text,message", [
    ("", "expected the header"),
    ("t,rps\n0,1\n", "expected the header"),
    ("t_seconds,requests_per_second\n", "no rows"),
    ("t_seconds,requests_per_second\n0,1\n0,2\n", "line 3: t_seconds 0 does not increase"),
    ("t_seconds,requests_per_second\n0,1\n15,-4\n", "line 3: values must be finite and the rate >= 0"),
    ("t_seconds,requests_per_second\n0,1\n15\n", "line 3: expected 2 values"),
    ("t_seconds,requests_per_second\n0,nan\n", "line 2: values must be finite"),
])
def test_malformed_traces_are_refused_with_the_line(text, message):
    with pytest.raises(TraceError, match=message):
        replay.read_trace(io.StringIO(text))


def test_bad_replay_settings_are_refused():
    with pytest.raises(TraceError, match="--capacity must be a positive"):
        replay.simulate(trace([1]), [], replay.Behavior(), replay.ReplayConfig(capacity=0))
    with pytest.raises(TraceError, match="--initial 30 is outside 1..20"):
        replay.simulate(trace([1]), [], replay.Behavior(), replay.ReplayConfig(capacity=1, max_instances=20,
                                                                               initial=30))
