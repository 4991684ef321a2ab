"""API plumbing: authentication, staff-only writes, one error format, schema, throttling."""
import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.throttling import UserRateThrottle

pytestmark = pytest.mark.django_db

HEALTH = "/api/performance/health"


def _error(response):
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["status"] == response.status_code
    assert body["error"]["message"]
    return body["error"]


def test_anonymous_reads_are_refused(client):
    response = client.get(HEALTH)
    assert response.status_code in (401, 403)
    assert _error(response)["code"] == "not_authenticated"


def test_signed_in_user_reads_health_of_each_component(viewer_client):
    response = viewer_client.get(HEALTH)
    assert response.status_code == 200
    components = {c["name"]: c for c in response.json()["components"]}
    assert set(components) == {"database", "cache", "broker", "workers"}
    for name in ("database", "cache", "broker"):
        assert components[name]["ok"], components[name]
        assert components[name]["latency_ms"] >= 0
    # No worker runs in this test: the API says so rather than pretending.
    assert components["workers"]["ok"] is False and "no Celery worker" in components["workers"]["error"]
    assert response.json()["status"] == "degraded"


def test_token_authentication(client, plain_user):
    token = Token.objects.create(user=plain_user)
    assert client.get(HEALTH, HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 200
    bad = client.get(HEALTH, HTTP_AUTHORIZATION="Token not-a-real-token")
    assert bad.status_code in (401, 403) and _error(bad)["code"] == "authentication_failed"


def test_token_is_issued_for_valid_credentials_only(client, plain_user):
    response = client.post("/api/auth/token/", {"username": "viewer", "password": "pw-viewer-123"})
    assert response.status_code == 200 and len(response.json()["token"]) == 40
    wrong = client.post("/api/auth/token/", {"username": "viewer", "password": "nope"})
    assert wrong.status_code == 400
    assert _error(wrong)["code"] == "invalid"


def test_non_staff_writes_are_forbidden(viewer_client):
    response = viewer_client.post(HEALTH, {}, content_type="application/json")
    assert response.status_code == 403
    assert _error(response)["code"] == "permission_denied"


def test_staff_write_to_a_read_only_endpoint_is_405_in_the_same_format(staff_client):
    response = staff_client.post(HEALTH, {}, content_type="application/json")
    assert response.status_code == 405
    assert _error(response)["code"] == "method_not_allowed"


def test_unknown_api_path_is_a_json_404(viewer_client):
    response = viewer_client.get("/api/performance/no-such-thing")
    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"


def test_openapi_schema_and_docs_are_served_without_a_cdn(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    document = schema.json()
    assert document["openapi"].startswith("3.")
    assert "/api/performance/health" in document["paths"]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    page = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn.jsdelivr.net" not in page and "unpkg.com" not in page


def test_throttling_answers_429_with_retry_after(viewer_client, monkeypatch):
    cache.clear()
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "2/min", "anon": "2/min"})
    assert [viewer_client.get(HEALTH).status_code for _ in range(2)] == [200, 200]
    response = viewer_client.get(HEALTH)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    error = _error(response)
    assert error["code"] == "throttled" and error["retry_after_seconds"] > 0
    cache.clear()


def test_probes(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/livez").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.content
    assert set(ready.json()["checks"]) == {"database", "cache", "broker"}


def test_admin_uses_the_project_site_and_refuses_non_staff(plain_user, staff_user):
    from django.test import Client

    assert Client().get("/admin/").status_code == 302
    viewer = Client()
    viewer.force_login(plain_user)
    assert viewer.get("/admin/").status_code == 302  # non-staff: back to the login page
    staff = Client()
    staff.force_login(staff_user)
    page = staff.get("/admin/")
    assert page.status_code == 200 and b"Performance console" in page.content
