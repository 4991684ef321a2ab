"""The operator dashboard in a real browser (Debian's Chromium driven by Playwright):
log in, see tiles and charts drawn from a seeded period, scale a group through the
confirmation page, and save a screenshot."""
import shutil
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from perfmon import histogram
from perfmon.models import HostSample, TrafficMinute
from perfmon.services import record_host_sample
from tests.support import ROOT, child_env, free_port, skip_or_fail, start_web

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "tests" / "artifacts"


def seed_traffic():
    now = timezone.now().replace(second=0, microsecond=0)
    for minute in range(1, 31):
        bucket = now - timedelta(minutes=minute)
        for route, status, count, each_ms in (("/api/orders/", 200, 60, 120.0), ("/api/orders/", 500, 3, 900.0),
                                              ("/api/products/<int:pk>/", 200, 90, 15.0)):
            hist = {name: 0 for name in histogram.BUCKET_FIELDS}
            hist[histogram.BUCKET_FIELDS[histogram.bucket_index(each_ms)]] = count
            TrafficMinute.objects.create(kind="http", bucket=bucket, route=route, method="GET", status=status,
                                         count=count, duration_sum_ms=count * each_ms, duration_max_ms=each_ms,
                                         db_queries=count * 2, cache_hits=count * 9, cache_misses=count,
                                         response_bytes=count * 2000, **hist)
        sample = record_host_sample(cpu_interval=0)
        HostSample.objects.filter(pk=sample.pk).update(at=now - timedelta(minutes=minute) + timedelta(seconds=30),
                                                       cpu_percent=40.0 + minute % 5, memory_percent=55.0)


def seed_cdn():
    from cdn.models import UsageDaily

    today = timezone.now().date()
    for days_ago in range(1, 6):
        for result, hits in (("Hit", 900), ("Miss", 100)):
            UsageDaily.objects.create(date=today - timedelta(days=days_ago), path="/static/app.js", edge_location="FRA56-C1",
                                      region="FRA", result_type=result, hits=hits, bytes=hits * 50_000)


@pytest.fixture
def browser(monkeypatch):
    # Playwright's sync API keeps an event loop on this thread; the ORM calls made here are
    # still plain synchronous ones (Playwright's documented pairing with pytest-django).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not CHROMIUM:
        skip_or_fail("needs Chromium: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


@pytest.fixture
def group():
    from scaling.services import create_group, scale_group

    port = free_port()
    created = create_group(name="web", actor="test", reason="browser test", min_instances=0, max_instances=4,
                           backend_options={"command": f"{sys.executable} -m http.server {{port}} --bind 127.0.0.1",
                                            "base_port": port, "health_path": "/"})
    yield created
    scale_group(group="web", instances=0, actor="test", reason="clean up after the browser test")


def make_user(model, username, password, **flags):
    from django.contrib.auth.hashers import make_password

    # Hashed the way the server process (production settings) checks passwords.
    return model.objects.create(username=username, password=make_password(password, hasher="pbkdf2_sha256"), **flags)


def login(page, base, username, password):
    page.goto(base + "/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")


def test_dashboard_shows_the_seeded_period_and_scales_through_confirmation(tmp_path, browser, group,
                                                                           django_user_model):
    from scaling.models import ScalingEvent

    make_user(django_user_model, "ops", "ops-pass-123", is_staff=True, is_superuser=True)
    seed_traffic()
    seed_cdn()
    server, base = start_web(tmp_path, child_env(), workers=2)
    fresh = record_host_sample(cpu_interval=0)  # what the collector wrote seconds ago
    HostSample.objects.filter(pk=fresh.pk).update(cpu_percent=41.0, memory_percent=55.0)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        console = []
        page.on("console", lambda message: console.append(message.text))
        page.on("pageerror", lambda error: console.append(str(error)))
        login(page, base, "ops", "ops-pass-123")
        try:
            page.wait_for_selector("#cp-dashboard[data-loaded=true]", timeout=20000)
        except Exception:
            page.screenshot(path=str(tmp_path / "fail.png"))
            raise AssertionError(f"dashboard did not load at {page.url}: {page.content()[:3000]}; console: {console}; "
                                 f"server: {server.output()[-2000:]}")
        tile = lambda key: page.inner_text(f'[data-tile="{key}"] .cp-value')  # noqa: E731
        # 153 requests a minute were seeded for the last 30 minutes; the tile averages the last 5.
        assert float(tile("request_rate_per_min")) == pytest.approx(153, rel=0.25)
        assert tile("error_rate").endswith("%") and 1.0 <= float(tile("error_rate").split()[0]) <= 3.0
        assert tile("cache_hit_rate") == "90.0 %"
        assert tile("memory_percent") == "55.0 %"
        for chart in ("chart-traffic", "chart-latency", "chart-host", "chart-cache", "chart-cdn"):
            assert int(page.get_attribute(f"#{chart}", "data-points")) > 0, chart
            assert page.locator(f"#{chart} canvas").count() == 1, chart

        page.select_option("#cp-scale-group", "web")
        page.fill("#cp-scale-instances", "2")
        page.click("#cp-scale")
        assert "Scale group web to 2 instances" in page.inner_text(".cp-confirm-description")
        page.fill("input[name=reason]", "browser test scale")
        page.click("#cp-confirm")
        page.wait_for_selector(".messagelist .success", timeout=30000)
        event = ScalingEvent.objects.filter(group__name="web", kind="manual").latest("at")
        assert (event.to_instances, event.reason, event.actor_label) == (2, "browser test scale", "ops")
        page.wait_for_selector("#chart-instances[data-events]", timeout=20000)
        page.wait_for_function("document.querySelector('#chart-instances').dataset.events !== '0'", timeout=20000)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
    finally:
        server.stop()


def test_non_staff_cannot_reach_the_dashboard_or_its_actions(tmp_path, browser, django_user_model):
    make_user(django_user_model, "viewer", "viewer-pass-123")
    server, base = start_web(tmp_path, child_env())
    try:
        page = browser.new_page()
        login(page, base, "viewer", "viewer-pass-123")
        assert page.locator("#cp-dashboard").count() == 0
        assert "/admin/login/" in page.url
        page.goto(base + "/admin/console/optimize/?type=all")
        assert "/admin/login/" in page.url and page.locator("#cp-confirm").count() == 0
    finally:
        server.stop()
