"""PostgreSQL connections of the web process terminated (pg_terminate_backend), between
requests and in the middle of one: a clear 503 in the API's error format for the request
that lost its connection, and 200s again without restarting anything.

Only this test's own backends are terminated: those of the test database whose
application_name is the web process's (set by DATABASE_APPLICATION_NAME)."""
import json
import threading
import uuid

import psycopg
import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from perfmon.ops.models import Alert
from tests.faults.conftest import start_api_web
from tests.support import child_env, http_get, need_postgres, need_redis, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

URL = "/api/performance/alerts"


def _admin_connection() -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"] or "postgres",
                           dbname=db["NAME"], autocommit=True, application_name="cp-faults-test")


def _backends(admin, app_name: str, waiting: bool = False) -> list[int]:
    sql = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s"
    if waiting:
        sql += " AND wait_event_type = 'Lock'"
    return [row[0] for row in admin.execute(sql, [app_name]).fetchall()]


def _terminate(admin, app_name: str, waiting: bool = False) -> int:
    pids = _backends(admin, app_name, waiting)
    for pid in pids:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    return len(pids)


def test_terminated_connections_give_a_clear_503_and_recover_without_restart(tmp_path, staff_user):
    need_postgres()
    need_redis()
    app_name = f"cp-faults-{uuid.uuid4().hex[:8]}"
    token = Token.objects.create(user=staff_user).key
    headers = {"Authorization": f"Token {token}"}
    web, base = start_api_web(tmp_path, child_env(DATABASE_APPLICATION_NAME=app_name))
    admin = _admin_connection()
    locker = _admin_connection()
    try:
        assert http_get(base + URL, headers=headers)[0] == 200
        # Between requests: the idle persistent connection dies; the next request reconnects.
        assert _terminate(admin, app_name) >= 1
        for _ in range(5):
            assert http_get(base + URL, headers=headers)[0] == 200

        # In the middle of a request: the view waits on a lock when its backend is terminated.
        locker.autocommit = False
        locker.execute(f"LOCK TABLE {Alert._meta.db_table} IN ACCESS EXCLUSIVE MODE")
        answer = {}
        thread = threading.Thread(target=lambda: answer.update(r=http_get(base + URL, timeout=30, headers=headers)))
        thread.start()
        wait_until(lambda: _backends(admin, app_name, waiting=True), 15, message="the request waiting on the lock")
        assert _terminate(admin, app_name, waiting=True) == 1
        thread.join(30)
        locker.rollback()
        status, body, response_headers = answer["r"]
        assert status == 503, body[:2000]
        error = json.loads(body)["error"]
        assert error["status"] == 503 and error["code"] == "database_unavailable", error
        assert response_headers.get("Retry-After")

        for _ in range(5):  # recovered: same process, new connection
            assert http_get(base + URL, headers=headers)[0] == 200
        assert web.alive()
    finally:
        locker.close()
        admin.close()
        web.stop()
