"""/metrics: OpenTelemetry-named request histogram from the shared totals."""
import pytest
from prometheus_client.parser import text_string_to_metric_families

from perfmon.histogram import BOUNDS_MS

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.perfmon.urls")]


def scrape(client, **headers) -> dict:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if v != ""))  # "" is no label
            samples[(sample.name, labels)] = sample.value
    return samples


def test_request_histogram_follows_opentelemetry_names(redis_buffer, recorder, client, raw_client):
    for n in (1, 2):
        client.get(f"/t/items/{n}")
    raw_client.get("/t/boom")
    assert recorder.flush()
    samples = scrape(client)
    labels = (("http_request_method", "GET"), ("http_response_status_code", "200"), ("http_route", "/t/items/<int:n>"))
    assert samples[("http_server_request_duration_seconds_count", labels)] == 2
    assert samples[("http_server_request_duration_seconds_bucket", labels + (("le", "+Inf"),))] == 2
    le_first = f"{BOUNDS_MS[0] / 1000:g}"
    assert ("http_server_request_duration_seconds_bucket", tuple(sorted(labels + (("le", le_first),)))) in samples
    boom = (("error_type", "500"), ("http_request_method", "GET"), ("http_response_status_code", "500"),
            ("http_route", "/t/boom"))
    assert samples[("http_server_request_duration_seconds_count", boom)] == 1
    assert samples[("perfmon_http_db_queries_total", (("http_route", "/t/items/<int:n>"),))] == 3
    assert samples[("perfmon_metrics_dropped_requests_total", ())] == 0
    # counters only grow: a second scrape after more traffic is higher
    client.get("/t/items/1")
    assert recorder.flush()
    assert scrape(client)[("http_server_request_duration_seconds_count", labels)] == 3


def test_bearer_token(redis_buffer, settings, client):
    settings.METRICS_BEARER_TOKEN = "s3cret-token"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    scrape(client, HTTP_AUTHORIZATION="Bearer s3cret-token")


def test_database_buffer_totals(db_buffer, recorder, client):
    client.get("/t/items/2")
    client.get("/t/items/2")
    assert recorder.flush()
    labels = (("http_request_method", "GET"), ("http_response_status_code", "200"), ("http_route", "/t/items/<int:n>"))
    assert scrape(client)[("http_server_request_duration_seconds_count", labels)] == 2
    assert scrape(client)[("perfmon_metrics_buffer_info", (("buffer", "database"),))] == 1
