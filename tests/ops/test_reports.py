"""Reports for a seeded period: the right numbers in JSON, the same in CSV, hostile cells escaped."""
import csv
import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from perfmon import histogram
from perfmon.models import HostSample, QueryMinute, QueryShape, TrafficMinute
from perfmon.ops.models import Alert, AlertRule, Recommendation
from perfmon.ops.reports import safe_cell
from perfmon.services import record_host_sample

pytestmark = pytest.mark.django_db


def traffic(minutes_ago, route, status, count, each_ms):
    bucket = (timezone.now() - timedelta(minutes=minutes_ago)).replace(second=0, microsecond=0)
    hist = {name: 0 for name in histogram.BUCKET_FIELDS}
    hist[histogram.BUCKET_FIELDS[histogram.bucket_index(each_ms)]] = count
    TrafficMinute.objects.create(kind="http", bucket=bucket, route=route, method="GET", status=status, count=count,
                                 duration_sum_ms=count * each_ms, duration_max_ms=each_ms, db_queries=count * 3,
                                 cache_hits=count, cache_misses=0, response_bytes=count * 1000, **hist)


@pytest.fixture
def seeded():
    traffic(10, "/api/orders/", 200, 90, 100)
    traffic(10, "/api/orders/", 500, 10, 400)
    traffic(20, "/api/products/<int:pk>/", 200, 100, 20)
    traffic(70, "/api/orders/", 200, 50, 50)  # the previous hour
    sample = record_host_sample(cpu_interval=0)
    HostSample.objects.filter(pk=sample.pk).update(host="web-1", cpu_percent=42.0, at=timezone.now()
                                                   - timedelta(minutes=5))
    QueryShape.objects.create(fingerprint="abc123", sql="SELECT * FROM orders WHERE id = ?")
    QueryMinute.objects.create(bucket=timezone.now() - timedelta(minutes=10), route="/api/orders/",
                               fingerprint="abc123", slow_count=4, slow_total_ms=6000, slow_max_ms=2500)
    rule = AlertRule.objects.create(name="=cmd|' /C calc'!A0", metric="host.cpu_percent", threshold=1)
    now = timezone.now()
    Alert.objects.create(rule=rule, fingerprint="f", labels={}, state="firing", severity="warning", value=2,
                         threshold=1, started_at=now, fired_at=now - timedelta(minutes=3), last_evaluated_at=now)
    Recommendation.objects.create(kind="test", subject="s", title="+SUM(A1:A9)", impact=3)


def test_json_report_has_the_right_numbers(seeded, viewer_client):
    body = viewer_client.get("/api/performance/reports?period=hour").json()
    summary = body["summary"]
    assert summary["requests"] == 200 and summary["errors"] == 10 and summary["error_rate"] == 0.05
    assert summary["avg_ms"] == pytest.approx((90 * 100 + 10 * 400 + 100 * 20) / 200)
    assert summary["db_queries_per_request"] == 3 and summary["cache_hit_rate"] == 1
    assert body["previous"]["requests"] == 50 and body["trend_percent"]["requests"] == 300.0
    by_time = body["top_routes"]["by_time"]
    assert [r["route"] for r in by_time] == ["/api/orders/", "/api/products/<int:pk>/"]
    assert by_time[0]["requests"] == 100 and by_time[0]["total_s"] == 13.0
    assert body["top_routes"]["by_errors"][0] == {**body["top_routes"]["by_errors"][0], "route": "/api/orders/",
                                                  "errors": 10}
    assert body["slow_queries"] == [{"fingerprint": "abc123", "route": "/api/orders/", "count": 4, "mean_ms": 1500.0,
                                     "max_ms": 2500.0, "nplus1_requests": 0,
                                     "sql": "SELECT * FROM orders WHERE id = ?"}]
    assert body["resources"][0]["host"] == "web-1" and body["resources"][0]["cpu_max"] == 42.0
    assert len(body["alerts"]) == 1 and body["recommendations"][0]["title"] == "+SUM(A1:A9)"


def test_csv_report_has_the_same_numbers_and_escapes_formulas(seeded, viewer_client):
    response = viewer_client.get("/api/performance/reports?period=hour&format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    summary = {r[1]: r[2] for r in rows if r[0] == "summary"}
    assert summary["requests"] == "200" and summary["error_rate"] == "0.05" and summary["avg_ms"] == "75.0"
    top = [r for r in rows if r[0] == "top_routes_by_time"]
    assert top[0][1:3] == ["/api/orders/", "100"]
    alert_rows = [r for r in rows if r[0] == "alerts"]
    assert alert_rows[0][1] == "'=cmd|' /C calc'!A0"
    assert [r for r in rows if r[0] == "recommendations"][0][1] == "'+SUM(A1:A9)"
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)


def test_the_command_prints_the_same_report(seeded, tmp_path):
    out = tmp_path / "r.csv"
    call_command("perf_report", "--period", "hour", "--format", "csv", "--output", str(out))
    rows = list(csv.reader(out.open()))
    assert {r[1]: r[2] for r in rows if r[0] == "summary"}["requests"] == "200"


def test_bad_period_or_format_is_a_400(viewer_client):
    response = viewer_client.get("/api/performance/reports?period=fortnight&format=xml")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"period", "format"}


@pytest.mark.parametrize("value,expected", [("=1+1", "'=1+1"), ("-2", "'-2"), ("@x", "'@x"), ("+x", "'+x"),
                                            ("plain", "plain"), (-3.5, -3.5), (None, "")])
def test_safe_cell(value, expected):
    assert safe_cell(value) == expected
