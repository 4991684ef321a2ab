"""perfmon added to a Django project that is not this one: only `perfmon` in
INSTALLED_APPS (no ops, scaling, cdn, dbopt, DRF or Celery app), its middleware, its
own SQLite database and Redis as the buffer, served by gunicorn with two workers."""
import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from tests.support import Process, free_port, http_get, need_redis, wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

SETTINGS = """
    import os
    SECRET_KEY = "another-project-" + "k" * 50
    DEBUG = False
    ALLOWED_HOSTS = ["127.0.0.1"]
    ROOT_URLCONF = "shop_urls"
    USE_TZ = True
    INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "perfmon"]
    MIDDLEWARE = ["perfmon.middleware.RequestMetricsMiddleware", "django.middleware.common.CommonMiddleware"]
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["SHOP_DB"]}}
    CACHES = {"default": {"BACKEND": "perfmon.cache.LocMemCache"}}
    PERFMON = {"METRICS_BUFFER": os.environ["SHOP_BUFFER"], "METRICS_KEY_PREFIX": os.environ["SHOP_PREFIX"],
               "FLUSH_INTERVAL_SECONDS": 0.2}
"""
URLS = """
    from django.contrib.auth.models import User
    from django.core.cache import cache
    from django.http import HttpResponse
    from django.urls import include, path

    def product(request, slug):
        cached = cache.get(slug)
        if cached is None:
            cached = str(User.objects.filter(username=slug).exists())
            cache.set(slug, cached)
        return HttpResponse(cached)

    urlpatterns = [path("products/<slug:slug>", product), path("", include("perfmon.urls_metrics"))]
"""
WSGI = """
    import os
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop_settings")
    from django.core.wsgi import get_wsgi_application
    application = get_wsgi_application()
"""
REPORT = """
    import json
    from datetime import timedelta
    import django
    django.setup()
    from django.core.management import call_command
    from django.utils import timezone
    from perfmon.models import TrafficMinute
    from perfmon.rollup import rollup_minutes
    call_command("check", fail_level="WARNING")
    rollup_minutes(now=timezone.now() + timedelta(minutes=2))
    rows = {}
    for row in TrafficMinute.objects.all():
        entry = rows.setdefault(f"{row.route} {row.status}", [0, 0, 0, 0])
        for i, value in enumerate((row.count, row.db_queries, row.cache_hits, row.cache_misses)):
            entry[i] += value
    print(json.dumps(rows))
"""


def _project(tmp_path: Path) -> dict[str, str]:
    for name, body in (("shop_settings", SETTINGS), ("shop_urls", URLS), ("shop_wsgi", WSGI), ("report", REPORT)):
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
    return {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{tmp_path}:{ROOT}", "DJANGO_SETTINGS_MODULE": "shop_settings",
            "SHOP_DB": str(tmp_path / "shop.sqlite3"), "SHOP_BUFFER": need_redis(),
            "SHOP_PREFIX": f"shop-{uuid.uuid4().hex[:8]}", "PYTHONUNBUFFERED": "1"}


def _run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, *args], env=env, cwd=env["PYTHONPATH"].split(":")[0],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _scraped_count(port: int) -> float:
    status, body, _headers = http_get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    line = next(line for line in body.decode().splitlines()
                if line.startswith("http_server_request_duration_seconds_count{")
                and 'http_route="/products/<slug:slug>"' in line)
    return float(line.rsplit(" ", 1)[1])


def test_a_project_with_only_perfmon_and_its_middleware_is_counted(tmp_path):
    env = _project(tmp_path)
    _run(env, "-m", "django", "migrate", "--verbosity", "0")
    port = free_port()
    web = Process([sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
                   "shop_wsgi:application"], env, tmp_path / "web.log")
    try:
        wait_until(lambda: http_get(f"http://127.0.0.1:{port}/products/probe")[0] == 200, 30,
                   message="the other project's gunicorn to answer")
        statuses = [http_get(f"http://127.0.0.1:{port}/products/p{i % 5}")[0] for i in range(40)]
        statuses += [http_get(f"http://127.0.0.1:{port}/../../etc/passwd")[0],
                     http_get(f"http://127.0.0.1:{port}/" + "x" * 3000)[0]]
        assert statuses == [200] * 40 + [404, 404]
        # One scrape of either worker covers both: the exposition reads the shared totals.
        wait_until(lambda: _scraped_count(port) == 41, 10, message="/metrics to show all 41 product requests")
    finally:
        web.stop()  # a stopping worker flushes what it counted
    rows = json.loads(_run(env, "report.py").strip().splitlines()[-1])
    count, queries, hits, misses = rows["/products/<slug:slug> 200"]
    assert count == 41  # the probe and the 40
    assert hits + misses == 41 and queries == misses and misses >= 6  # each worker's own cache misses once per slug
    assert rows["<unmatched> 404"][0] == 2
