import pytest
from django.utils import timezone

from perfmon.ops.models import Alert, AlertRule

pytestmark = pytest.mark.django_db


def _alert(rule, state, severity):
    now = timezone.now()
    return Alert.objects.create(rule=rule, fingerprint=f"{state}-{severity}", labels={}, state=state,
                                severity=severity, value=1, threshold=0, started_at=now, last_evaluated_at=now)


def test_alerts_filter_by_state_and_severity_and_paginate(viewer_client):
    rule = AlertRule.objects.create(name="r", metric="host.cpu_percent", threshold=1)
    _alert(rule, "firing", "critical")
    _alert(rule, "firing", "warning")
    _alert(rule, "resolved", "critical")
    body = viewer_client.get("/api/performance/alerts?state=firing").json()
    assert body["count"] == 2
    assert viewer_client.get("/api/performance/alerts?state=firing&severity=critical").json()["count"] == 1
    page = viewer_client.get("/api/performance/alerts?limit=1").json()
    assert len(page["results"]) == 1 and page["next"]
    bad = viewer_client.get("/api/performance/alerts?state=burning")
    assert bad.status_code == 400 and "state" in bad.json()["error"]["fields"]


def test_acknowledge_through_the_api_is_staff_only(viewer_client, staff_user):
    from django.test import Client

    rule = AlertRule.objects.create(name="r", metric="host.cpu_percent", threshold=1)
    alert = _alert(rule, "firing", "critical")
    assert viewer_client.post(f"/api/performance/alerts/{alert.pk}/acknowledge").status_code == 403
    staff = Client()
    staff.force_login(staff_user)
    response = staff.post(f"/api/performance/alerts/{alert.pk}/acknowledge", {"reason": "mine"},
                          content_type="application/json")
    assert response.status_code == 200 and response.json()["acknowledged_at"]
    resolved = _alert(rule, "resolved", "warning")
    conflict = staff.post(f"/api/performance/alerts/{resolved.pk}/acknowledge")
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "not_firing"
