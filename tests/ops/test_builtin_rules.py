"""perfmon's own recommendation rules over real rollup rows, and the cache pass."""
from datetime import timedelta

import pytest
from django.utils import timezone

from perfmon import histogram
from perfmon.models import QueryMinute, QueryShape, TrafficMinute
from perfmon.ops import builtin
from perfmon.ops.models import Recommendation
from perfmon.ops.optimize import passes_for
from perfmon.ops.recommendations import refresh_recommendations

pytestmark = pytest.mark.django_db


def traffic(route, count, each_ms, *, hits=0, misses=0, bytes_each=1000, saved=0):
    bucket = (timezone.now() - timedelta(minutes=10)).replace(second=0, microsecond=0)
    hist = dict.fromkeys(histogram.BUCKET_FIELDS, 0)
    hist[histogram.BUCKET_FIELDS[histogram.bucket_index(each_ms)]] = count
    TrafficMinute.objects.create(kind="http", bucket=bucket, route=route, method="GET", status=200, count=count,
                                 duration_sum_ms=count * each_ms, duration_max_ms=each_ms, db_queries=count * 40,
                                 db_time_ms=count * each_ms / 2, cache_hits=hits, cache_misses=misses,
                                 response_bytes=count * bytes_each, bytes_saved=saved, **hist)


def test_slow_route_and_uncompressed_and_cache_findings():
    traffic("/api/slow/", 100, 600.0, hits=10, misses=190, bytes_each=250_000)
    traffic("/api/fast/", 100, 20.0, bytes_each=300_000, saved=5_000_000)
    now = timezone.now()
    slow = builtin.slow_routes(now)
    assert [f.subject for f in slow] == ["/api/slow/"] and slow[0].impact == pytest.approx(40.0)
    assert [f.subject for f in builtin.uncompressed_responses(now)] == ["/api/slow/"]
    [cache] = builtin.low_cache_hit_rate(now)
    assert cache.evidence["hit_rate"] == pytest.approx(0.05) and cache.action == "perfmon.warm_cache"


def test_n_plus_one_is_found_with_its_query_shape():
    QueryShape.objects.create(fingerprint="f00d", sql="SELECT * FROM item WHERE order_id = ?")
    QueryMinute.objects.create(bucket=timezone.now() - timedelta(minutes=5), route="/api/orders/",
                               fingerprint="f00d", nplus1_requests=12, nplus1_executions=600)
    [finding] = builtin.n_plus_one(timezone.now())
    assert finding.evidence["sql"].startswith("SELECT * FROM item") and "50 times" in finding.title


def test_refresh_turns_findings_into_recommendations_once():
    traffic("/api/slow/", 100, 600.0)
    refresh_recommendations()
    refresh_recommendations()
    assert Recommendation.objects.filter(kind="perfmon.slow_route", status="open").count() == 1


def test_cache_pass_warms_the_dashboard_and_reviews():
    assert "cache.warm_and_review" in passes_for("cache")
    result = passes_for("cache")["cache.warm_and_review"](actor="test", reason="test")
    assert result["warmed"] == ["hour", "day", "week"]


def test_a_group_capped_at_its_maximum_gets_a_one_click_raise(staff_user):
    from perfmon.models import AuditRecord
    from perfmon.ops import services
    from scaling.models import ScalingEvent, ScalingGroup

    group = ScalingGroup.objects.create(name="web", min_instances=1, max_instances=4)
    ScalingEvent.objects.create(group=group, kind="autoscale", from_instances=3, to_instances=4, actor_label="autoscaler",
                                decision={"proposals": [{"policy": "target:cpu", "desired": 8}]})
    refresh_recommendations()
    rec = Recommendation.objects.get(kind="scaling.capped_at_max")
    assert rec.action_params == {"group": "web", "min_instances": 1, "max_instances": 10}
    services.apply_recommendation(recommendation_id=rec.pk, actor=staff_user, reason="raise it")
    group.refresh_from_db()
    assert group.max_instances == 10
    audit = AuditRecord.objects.get(action="scaling.set_group_limits")
    assert audit.before == {"min_instances": 1, "max_instances": 4} and audit.after["max_instances"] == 10


def test_bad_limits_are_refused_and_change_nothing(staff_user):
    from perfmon.errors import ActionError
    from scaling.models import ScalingGroup
    from scaling.services import set_group_limits

    ScalingGroup.objects.create(name="web", min_instances=1, max_instances=4)
    for lo, hi in ((5, 3), (-1, 3), (0, 0), (1, 5000)):
        with pytest.raises(ActionError):
            set_group_limits(group="web", min_instances=lo, max_instances=hi, actor=staff_user, reason="x")
    assert ScalingGroup.objects.values_list("min_instances", "max_instances").get() == (1, 4)
