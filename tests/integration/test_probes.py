"""Liveness and readiness of a real server process."""
import json

import pytest

from tests.support import child_env, http_get, need_redis, start_web

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_readyz_is_503_naming_redis_when_redis_is_down_while_healthz_stays_200(tmp_path):
    need_redis()
    server, base = start_web(tmp_path, child_env(REDIS_URL="redis://127.0.0.1:1/0"))
    try:
        assert http_get(base + "/healthz")[0] == 200
        status, body, headers = http_get(base + "/readyz")
        assert status == 503
        report = json.loads(body)
        assert report["status"] == "unavailable"
        assert "cache (redis)" in report["failed"] and "broker (redis)" in report["failed"]
        assert "database (postgresql)" not in report["failed"] and "database (sqlite)" not in report["failed"]
        assert "127.0.0.1:1" in report["checks"]["cache"]["error"]
        assert "no-cache" in headers.get("Cache-Control", "")
    finally:
        server.stop()


def test_readyz_is_200_when_everything_is_up(tmp_path):
    server, base = start_web(tmp_path, child_env())
    try:
        status, body, _ = http_get(base + "/readyz")
        assert status == 200, body
        assert json.loads(body)["failed"] == []
    finally:
        server.stop()
