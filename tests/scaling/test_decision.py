"""The decision code: pure functions on an explicit clock."""
import math
import random

import pytest

from scaling.decision import Behavior, GroupView, HistoryPoint, Memory, Metrics, decide
from scaling.policies import (
    PolicyConfigError,
    PredictivePolicy,
    TargetTrackingPolicy,
    ThresholdPolicy,
    build_policy,
    forecast_load,
)

HPA = Behavior()


def view(current, ready=None, starting=0, lo=1, hi=10):
    return GroupView(current, current if ready is None else ready, starting, lo, hi)


def run(policies, metrics, *, current=2, ready=None, starting=0, memory=Memory(), now=1000.0, behavior=HPA,
        history=(), lo=1, hi=10):
    return decide(now=now, group=view(current, ready, starting, lo, hi), metrics=metrics, policies=policies,
                  behavior=behavior, memory=memory, history=history)


def test_threshold_defaults_are_the_original_designs():
    assert build_policy("threshold", "cpu_percent", {}) == ThresholdPolicy("cpu_percent", 70, 30)
    assert build_policy("threshold", "memory_percent", {}) == ThresholdPolicy("memory_percent", 80, 40)
    assert build_policy("threshold", "request_rate", {}) == ThresholdPolicy("request_rate", 1000, 200)
    assert build_policy("threshold", "response_time_p95_ms", {}) == ThresholdPolicy("response_time_p95_ms", 2000, 500)
    assert build_policy("threshold", "db_connections", {}) == ThresholdPolicy("db_connections", 15, 5)


def test_threshold_totals_are_read_per_instance():
    policy = build_policy("threshold", "request_rate", {})
    # 3000 req/min on 2 ready instances is 1500 each: above 1000.
    assert run([policy], Metrics(request_rate=3000)).desired == 3
    # 1000 req/min on 4 instances is 250 each: inside the band, no opinion, hold.
    d = run([policy], Metrics(request_rate=1000), current=4)
    assert d.desired == 4 and d.proposals[0].desired is None


def test_threshold_down_waits_for_stabilization_window():
    policy = build_policy("threshold", "cpu_percent", {})
    first = run([policy], Metrics(cpu_percent=10), current=3, memory=Memory(((900.0, 3),)))
    assert first.recommendation == 2 and first.desired == 3  # 3 was recommended within 300 s
    later = run([policy], Metrics(cpu_percent=10), current=3, memory=Memory(((600.0, 3),)), now=1000)
    assert later.desired == 2


def test_target_tracking_is_proportional_with_tolerance():
    policy = TargetTrackingPolicy("cpu_percent", 50)
    assert run([policy], Metrics(cpu_percent=54), current=4).desired == 4      # within 10 %
    assert run([policy], Metrics(cpu_percent=90), current=4).desired == math.ceil(4 * 90 / 50)
    # no recommendation remembered yet: nothing to stabilize against
    assert run([policy], Metrics(cpu_percent=20), current=4).desired == 2
    held = run([policy], Metrics(cpu_percent=20), current=4, memory=Memory(((800.0, 4),)))
    assert held.desired == 4 and "stabilization" in held.steps[-1]
    down = run([policy], Metrics(cpu_percent=20), current=4, memory=Memory(((100.0, 4),)))
    assert down.desired == 2


def test_target_tracking_counts_starting_instances_as_idle_when_scaling_up():
    policy = TargetTrackingPolicy("cpu_percent", 50)
    # 2 ready at 60 % with 2 starting: 120/4 = 30 % once they are up; hold.
    held = run([policy], Metrics(cpu_percent=60), current=4, ready=2, starting=2)
    assert held.desired == 4
    # 2 ready at 200 %: diluted 400/(4x50) = 2.0 -> 8
    up = run([policy], Metrics(cpu_percent=200), current=4, ready=2, starting=2)
    assert up.desired == 8


def test_request_rate_target_divides_by_ready():
    policy = TargetTrackingPolicy("request_rate", 600)
    assert run([policy], Metrics(request_rate=3000), current=2).desired == 5


def test_largest_proposal_wins_and_missing_metrics_abstain():
    cpu = TargetTrackingPolicy("cpu_percent", 50)
    rate = TargetTrackingPolicy("request_rate", 600)
    d = run([cpu, rate], Metrics(cpu_percent=100, request_rate=100), current=2)
    assert d.desired == 4 and "cpu_percent" in d.reason
    d = run([cpu, rate], Metrics(), current=2)
    assert d.desired == 2 and d.reason == "no proposal"


def test_scale_up_rate_limit_is_max_of_four_and_double_per_period():
    policy = TargetTrackingPolicy("request_rate", 100)
    assert run([policy], Metrics(request_rate=5000), current=2, hi=100).desired == 6      # +4
    assert run([policy], Metrics(request_rate=50000), current=10, hi=100).desired == 20   # x2
    # a change 5 s ago already used the period's budget from 2: 2 -> 6 then at most 6.
    mem = Memory((), ((995.0, 2, 6),))
    assert run([policy], Metrics(request_rate=5000), current=6, memory=mem, hi=100).desired == 6


def test_clamped_to_min_and_max():
    policy = TargetTrackingPolicy("request_rate", 100)
    assert run([policy], Metrics(request_rate=100000), current=8, hi=10).desired == 10
    d = run([policy], Metrics(request_rate=0.0), current=1, lo=1)
    assert d.desired == 1


def test_cooldown_holds_scale_down_after_a_change():
    policy = TargetTrackingPolicy("cpu_percent", 50)
    behavior = Behavior(scale_down_cooldown_seconds=300, scale_down_stabilization_seconds=0)
    mem = Memory((), ((900.0, 2, 4),))
    assert run([policy], Metrics(cpu_percent=10), current=4, memory=mem, behavior=behavior).desired == 4
    assert run([policy], Metrics(cpu_percent=10), current=4, memory=mem, behavior=behavior,
               now=1300).desired == 1


def test_decision_is_pure_and_memory_round_trips():
    policy = TargetTrackingPolicy("cpu_percent", 50)
    a = run([policy], Metrics(cpu_percent=90), current=4)
    b = run([policy], Metrics(cpu_percent=90), current=4)
    assert a == b
    assert Memory.from_json(a.memory.to_json()) == a.memory
    assert Memory.from_json({"recommendations": "garbage"}) == Memory()


def test_predictive_trend_provisions_ahead_by_warmup():
    policy = PredictivePolicy("request_rate", 600, noise_z=0)
    # load rises 600 req/min every minute; warm-up 120 s + tick 15 s ahead.
    history = [HistoryPoint(t, 1, {"request_rate": 600 * t / 60}) for t in range(0, 601, 15)]
    behavior = Behavior(warmup_seconds=120)
    d = run([policy], Metrics(request_rate=6000), current=10, now=600, history=history, behavior=behavior,
            hi=30)
    forecast = 6000 + 600 * 135 / 60
    assert d.proposals[0].desired == math.ceil(forecast / 600)
    assert d.desired == math.ceil(forecast / 600)


def test_predictive_margin_follows_volatility_and_bursts_are_followed():
    policy = PredictivePolicy("request_rate", 600)
    calm = [(float(t), 6000.0) for t in range(0, 601, 15)]
    rng = random.Random(7)
    wobbly = [(float(t), rng.gauss(6000.0, 900.0)) for t in range(0, 601, 15)]
    assert forecast_load(calm, 600, 135, policy)[0] == pytest.approx(6000.0)
    value, _ = forecast_load(wobbly, 600, 135, policy)
    assert value > 6000 + 0.5 * 900    # a margin for an erratic load that a calm one does not get
    burst = calm[:-1] + [(600.0, 12000.0)]
    value, how = forecast_load(burst, 600, 135, policy)
    assert how.startswith("burst") and value == pytest.approx(18000.0)


def test_predictive_floor_has_a_tolerance_band():
    policy = PredictivePolicy("request_rate", 600, noise_z=0)
    flat = [HistoryPoint(t, 10, {"request_rate": 6300.0}) for t in range(0, 601, 15)]
    d = run([policy], Metrics(request_rate=6300), current=10, now=600, history=flat, hi=30)
    assert d.proposals[0].desired == 10          # 11 needed by ceil, but within 10 % of 10: hold


def test_predictive_is_robust_to_a_single_spike():
    history = [HistoryPoint(t, 1, {"request_rate": 1000.0}) for t in range(0, 601, 15)]
    history[-3] = HistoryPoint(570, 1, {"request_rate": 50000.0})
    value, _ = forecast_load([(p.t, p.total("request_rate")) for p in history], 600, 135,
                             PredictivePolicy("request_rate", 600, noise_z=0))
    assert value == pytest.approx(1000.0)


def test_predictive_uses_daily_seasonality_with_a_day_of_history():
    day = 86400
    policy = PredictivePolicy("request_rate", 100, trend_window_seconds=600)

    def load(t):  # flat today so far, but yesterday rose sharply 10 minutes later
        return 1000.0 if (t % day) < 3600 else 5000.0

    points = [(float(t), load(t)) for t in range(0, day + 3000, 60)]
    value, how = forecast_load(points, day + 3000, 900, policy)
    assert how == "daily seasonality" and value == pytest.approx(5000.0)
    few, how = forecast_load(points[:5], 240, 900, policy)
    assert few is not None and how.startswith("trend")


def test_predictive_floor_never_lowers_reactive():
    reactive = TargetTrackingPolicy("request_rate", 100)
    predictive = PredictivePolicy("request_rate", 100)
    history = [HistoryPoint(t, 5, {"request_rate": 100.0}) for t in range(0, 601, 15)]
    d = run([reactive, predictive], Metrics(request_rate=1000), current=5, now=600, history=history)
    assert d.desired == 10


@pytest.mark.parametrize("kind,metric,params,message", [
    ("threshold", "cpu_percent", {"up": 30, "down": 70}, "must be below"),
    ("target", "cpu_percent", {}, "target is required"),
    ("target", "response_time_p95_ms", {"target": 5}, "scales with instances"),
    ("target", "cpu_percent", {"target": "lots"}, "must be a number"),
    ("bogus", "cpu_percent", {}, "unknown policy kind"),
    ("threshold", "karma", {}, "unknown metric"),
])
def test_bad_policy_config_is_refused_with_a_message(kind, metric, params, message):
    with pytest.raises(PolicyConfigError, match=message):
        build_policy(kind, metric, params)
