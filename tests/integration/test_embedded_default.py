"""The README's start command on the embedded default: no PostgreSQL, no Redis.

Runs `manage.py serve --prepare` (what `python3 config/bootstrap.py start` runs once
the venv exists) in a fresh folder, logs in to the admin, checks /readyz, the
self-served API docs assets, and that a periodic task's effect lands in the database.
"""
import http.cookiejar
import os
import re
import sqlite3
import sys
import urllib.parse
import urllib.request

import pytest

from tests.support import Process, free_port, http_get, wait_until

pytestmark = pytest.mark.integration


def _embedded_env(tmp_path):
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update({
        "VAR_DIR": str(tmp_path / "var"), "STATIC_ROOT": str(tmp_path / "static"),
        "SECRET_KEY": "embedded-test-Zq8#vL2!mN5$xB7^cD1&fG4*hJ6(pR3)-0123456789",
        "ALLOWED_HOSTS": "127.0.0.1,localhost", "SECURE_HTTPS": "false",
        "DJANGO_SUPERUSER_USERNAME": "ops", "DJANGO_SUPERUSER_PASSWORD": "embedded-pass-42",
        "DJANGO_SETTINGS_MODULE": "config.settings.base", "PYTHONUNBUFFERED": "1",
    })
    return env


def _login(base: str) -> str:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/admin/login/?next=/admin/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"username": "ops", "password": "embedded-pass-42",
                                   "csrfmiddlewaretoken": token, "next": "/admin/"}).encode()
    request = urllib.request.Request(base + "/admin/login/?next=/admin/", data=data,
                                     headers={"Referer": base + "/admin/login/"})
    response = opener.open(request, timeout=10)
    return response.read().decode()


def _host_samples(db_path) -> int:
    with sqlite3.connect(db_path, timeout=5) as conn:
        return conn.execute("SELECT count(*) FROM perfmon_hostsample").fetchone()[0]


def test_start_command_brings_the_product_up_with_no_servers(tmp_path):
    port = free_port()
    env = _embedded_env(tmp_path)
    product = Process([sys.executable, "manage.py", "serve", "--prepare", "--port", str(port),
                       "--web-workers", "1", "--worker-concurrency", "1"], env, tmp_path / "serve.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_get(base + "/readyz")[0] == 200, 120, interval=0.5,
                   message="/readyz 200 on the embedded default")
        status, body, _ = http_get(base + "/readyz")
        assert b'"database": {"name": "database", "backend": "sqlite"' in body
        assert b'"backend": "filesystem"' in body

        dashboard = _login(base)
        assert "Performance console" in dashboard and "Log out" in dashboard

        docs = http_get(base + "/api/docs/")[1].decode()
        bundle = re.search(r'src="(/static/drf_spectacular_sidecar/[^"]+swagger-ui-bundle[^"]*\.js)"', docs).group(1)
        assert http_get(base + bundle)[0] == 200

        db_path = tmp_path / "var" / "controlplane.sqlite3"
        wait_until(lambda: _host_samples(db_path) >= 1, 60, interval=1,
                   message="the host collector's first sample, written by the worker on beat's schedule")
    except AssertionError:
        print(product.output()[-5000:])
        raise
    finally:
        product.stop()
    assert "Traceback" not in product.output(), product.output()[-5000:]
