import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("range_name,points", [("hour", 60), ("day", 24), ("week", 168)])
def test_dashboard_answers_every_range_in_a_bounded_number_of_queries(viewer_client, range_name, points,
                                                                      django_assert_max_num_queries):
    with django_assert_max_num_queries(25):
        body = viewer_client.get(f"/api/performance/dashboard?range={range_name}").json()
    assert set(body) >= {"tiles", "traffic", "host", "instances", "database", "cdn", "alerts", "recommendations",
                         "groups"}
    assert points <= len(body["traffic"]["t"]) <= points + 1
    assert body["tiles"]["firing_alerts"] == 0 and body["tiles"]["request_rate_per_min"] == 0


def test_bad_range_is_a_400_and_anonymous_is_refused(viewer_client, client):
    response = viewer_client.get("/api/performance/dashboard?range=century")
    assert response.status_code == 400 and "range" in response.json()["error"]["fields"]
    from django.test import Client

    assert Client().get("/api/performance/dashboard").status_code in (401, 403)


def test_cached_with_etag_and_refreshed_by_an_action(viewer_client, staff_user, django_capture_on_commit_callbacks):
    from django.core.cache import cache

    from perfmon.ops import services

    cache.clear()
    first = viewer_client.get("/api/performance/dashboard?range=hour")
    assert first["X-Cache"] == "miss" and first["ETag"]
    again = viewer_client.get("/api/performance/dashboard?range=hour", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    with django_capture_on_commit_callbacks(execute=True):
        services.update_settings(changes={"HIGH_CPU_THRESHOLD": 65}, actor=staff_user)  # any audited action
    after = viewer_client.get("/api/performance/dashboard?range=hour")
    assert after["X-Cache"] == "miss"
