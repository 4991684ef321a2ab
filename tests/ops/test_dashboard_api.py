import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("range_name,points", [("hour", 60), ("day", 96), ("week", 168)])
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
