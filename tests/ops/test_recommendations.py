"""Recommendations from registered rules: no duplicates, dismiss quiets, apply is audited once."""
import pytest

from perfmon.models import AuditRecord
from perfmon.ops import recommendations as recs
from perfmon.ops import services
from perfmon.ops.errors import OpsError
from perfmon.ops.models import Recommendation

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule():
    seen = {"subjects": ["/api/orders/"], "applied": []}

    def find(now):
        for subject in seen["subjects"]:
            yield recs.Finding(kind="test.slow_route", subject=subject, title=f"{subject} is slow",
                               evidence={"p95_ms": 900}, impact=12.5, action="test.fix",
                               action_params={"route": subject})

    def fix(*, params, actor, reason):
        seen["applied"].append(params["route"])
        return {"fixed": params["route"]}

    recs.register_rule("test.slow_route", find)
    recs.register_action("test.fix", fix)
    yield seen
    recs._rules.pop("test.slow_route", None)
    recs._actions.pop("test.fix", None)


def test_refresh_opens_once_and_closes_what_is_gone(rule):
    assert recs.refresh_recommendations().created == 1
    assert recs.refresh_recommendations().created == 0
    assert Recommendation.objects.filter(status="open").count() == 1
    rule["subjects"] = []
    assert recs.refresh_recommendations().gone == 1
    assert Recommendation.objects.get().status == "gone"


def test_dismissed_stays_quiet(rule, staff_user):
    recs.refresh_recommendations()
    rec = Recommendation.objects.get()
    services.dismiss_recommendation(recommendation_id=rec.pk, actor=staff_user, reason="known")
    recs.refresh_recommendations()
    assert Recommendation.objects.count() == 1 and Recommendation.objects.get().status == "dismissed"


def test_apply_runs_the_action_once_and_is_audited(rule, staff_client, staff_user):
    recs.refresh_recommendations()
    rec = Recommendation.objects.get()
    listed = staff_client.get("/api/performance/recommendations").json()["results"]
    assert [r["id"] for r in listed] == [rec.pk] and listed[0]["evidence"] == {"p95_ms": 900}
    for _ in range(2):
        response = staff_client.post(f"/api/performance/recommendations/{rec.pk}/apply", {"reason": "go"},
                                     content_type="application/json")
        assert response.status_code == 200 and response.json()["status"] == "applied"
    assert rule["applied"] == ["/api/orders/"]
    audits = AuditRecord.objects.filter(action="perfmon.apply_recommendation").order_by("id")
    assert [a.result for a in audits] == ["ok", "noop"]
    assert audits[0].after["result"] == {"fixed": "/api/orders/"}


def test_a_recommendation_without_action_cannot_be_applied(staff_user):
    rec = Recommendation.objects.create(kind="test.advice", subject="x", title="read the docs")
    with pytest.raises(OpsError, match="no action"):
        services.apply_recommendation(recommendation_id=rec.pk, actor=staff_user)
    rec.refresh_from_db()
    assert rec.status == "open"


def test_unknown_recommendation_is_a_404(staff_client):
    response = staff_client.post("/api/performance/recommendations/999/apply", {}, content_type="application/json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
