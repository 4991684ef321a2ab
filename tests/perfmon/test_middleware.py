"""Real requests through the middleware, with Redis as the buffer."""
from datetime import timedelta

import pytest
from django.utils import timezone

from perfmon.models import QueryMinute, QueryShape, TrafficMinute
from perfmon.rollup import rollup_minutes
from perfmon.schema import COUNT, DB_QUERIES, HTTP, UNMATCHED
from perfmon.selectors import traffic_stats
from tests.perfmon.conftest import set_perfmon
from tests.support import need_redis

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.perfmon.urls")]


def _by_route(batch, kind=HTTP):
    out = {}
    for (k, _minute, route, method, status), values in batch.rows.items():
        if k == kind:
            row = out.setdefault((route, method, status), [0, 0])
            row[0] += values[COUNT]
            row[1] += values[DB_QUERIES]
    return out


def _pending(buffer):
    now = int(timezone.now().timestamp())
    return buffer.pending(since_minute=now // 60 * 60 - 120)


def test_requests_are_counted_by_route_template_with_status_and_queries(redis_buffer, recorder, client, raw_client):
    for n in (1, 2, 3):
        assert client.get(f"/t/items/{n}").status_code == 200
    assert client.post("/t/items/2").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert raw_client.get("/t/boom").status_code == 500
    assert recorder.flush()

    rows = _by_route(_pending(redis_buffer))
    assert rows[("/t/items/<int:n>", "GET", 200)] == [3, 1 + 2 + 3]
    assert rows[("/t/items/<int:n>", "POST", 200)] == [1, 2]
    assert rows[("/healthz", "GET", 200)] == [1, 0]
    assert rows[("/t/boom", "GET", 500)][0] == 1
    # the raw path never becomes a label
    assert not any("items/1" in route for route, _m, _s in rows)


def test_hostile_paths_and_unmatched_routes_fold_into_one_label(redis_buffer, recorder, raw_client):
    hostile = "/" + "%00%ff<script>/../" * 500 + "x" * 5000
    assert raw_client.get(hostile).status_code == 404
    assert raw_client.get("/no/such/page").status_code == 404
    assert raw_client.generic("BREW", "/healthz").status_code == 405
    assert recorder.flush()
    rows = _by_route(_pending(redis_buffer))
    assert rows[(UNMATCHED, "GET", 404)] == [2, 0]
    assert rows[("/healthz", "_OTHER", 405)][0] == 1
    assert all(len(route) <= 200 for route, _m, _s in rows)


def test_label_cardinality_is_bounded(redis_buffer, recorder, settings, client):
    set_perfmon(settings, MAX_ROUTES=2)
    for url in ("/healthz", "/livez", "/t/items/0", "/t/big"):
        assert client.get(url).status_code == 200
    assert recorder.flush()
    routes = {route for route, _m, _s in _by_route(_pending(redis_buffer))}
    assert routes == {"/healthz", "/livez", "<other>"}


def test_slow_queries_and_n_plus_one_are_recorded_by_fingerprint(redis_buffer, recorder, settings, client):
    set_perfmon(settings, SLOW_QUERY_THRESHOLD_MS=20.0, N_PLUS_ONE_THRESHOLD=10)
    for _ in range(2):
        assert client.get("/t/slow").status_code == 200
    assert client.get("/t/items/12").status_code == 200
    assert client.get("/t/items/3").status_code == 200
    assert recorder.flush()
    rollup_minutes(now=timezone.now() + timedelta(minutes=2))

    slow = QueryMinute.objects.get(route="/t/slow")
    assert slow.slow_count == 2 and slow.slow_max_ms >= 50 and slow.nplus1_requests == 0
    sql = QueryShape.objects.get(fingerprint=slow.fingerprint).sql
    assert "pg_sleep(?)" in sql and "secret-literal" not in sql and "0.05" not in sql
    nplus1 = QueryMinute.objects.get(route="/t/items/<int:n>")
    assert nplus1.nplus1_requests == 1 and nplus1.nplus1_executions == 12 and nplus1.slow_count == 0
    assert "auth_user" in QueryShape.objects.get(fingerprint=nplus1.fingerprint).sql


def test_n_plus_one_adds_up_statements_that_differ_only_in_literals_or_list_length(redis_buffer, recorder,
                                                                                  settings, client):
    set_perfmon(settings, N_PLUS_ONE_THRESHOLD=10)
    assert client.get("/t/literals/11").status_code == 200
    assert client.get("/t/literals/4").status_code == 200  # 4 of each shape: under the threshold
    assert recorder.flush()
    rollup_minutes(now=timezone.now() + timedelta(minutes=2))

    rows = {QueryShape.objects.get(fingerprint=r.fingerprint).sql: r
            for r in QueryMinute.objects.filter(route="/t/literals/<int:n>")}
    assert len(rows) == 2, rows
    literal = next(r for sql, r in rows.items() if "username <> ?" in sql)
    in_list = next(r for sql, r in rows.items() if "IN (?+)" in sql)
    for row in (literal, in_list):
        assert row.nplus1_requests == 1 and row.nplus1_executions == 11
    assert not any("'u1'" in sql or "= 3" in sql for sql in rows)


def test_percentiles_and_totals_survive_the_rollup(redis_buffer, recorder, client):
    for n in range(5):
        client.get(f"/t/items/{n}")
    assert recorder.flush()
    now = timezone.now()
    assert rollup_minutes(now=now + timedelta(minutes=2)).parts_applied >= 1
    assert rollup_minutes(now=now + timedelta(minutes=2)).parts_applied == 0
    rows = TrafficMinute.objects.filter(route="/t/items/<int:n>")
    assert sum(r.count for r in rows) == 5 and sum(r.db_queries for r in rows) == 0 + 1 + 2 + 3 + 4
    stats = traffic_stats(now - timedelta(minutes=5), now + timedelta(minutes=1), route="/t/items/<int:n>")
    assert stats.requests == 5 and stats.errors == 0
    assert 0 < stats.p50_ms <= stats.p95_ms <= stats.p99_ms <= stats.max_ms
    assert stats.db_queries_per_request == 2.0


def test_cache_hits_and_misses_are_counted_per_request(redis_buffer, recorder, client):
    from perfmon.api_cache import invalidate

    invalidate("tests.perfmon")
    assert client.get("/t/cached/a").json()["hit"] is False
    assert client.get("/t/cached/a").json()["hit"] is True
    assert client.get("/t/cached/a").json()["hit"] is True
    invalidate("tests.perfmon")
    assert client.get("/t/cached/a").json()["hit"] is False
    assert recorder.flush()
    batch = _pending(redis_buffer)
    from perfmon.schema import CACHE_HITS, CACHE_MISSES

    values = [v for k, v in batch.rows.items() if k[0] == HTTP and k[2] == "/t/cached/<str:key>"]
    assert sum(v[CACHE_HITS] for v in values) == 2 and sum(v[CACHE_MISSES] for v in values) == 2


@pytest.mark.parametrize("backend", ["perfmon.cache.RedisCache", "perfmon.cache.DjangoRedisCache",
                                     "perfmon.cache.LocMemCache", "perfmon.cache.DatabaseCache"])
def test_plain_django_cache_reads_are_counted_with_a_counting_backend(redis_buffer, recorder, client, settings,
                                                                       backend):
    import uuid

    from django.core.cache import caches

    from perfmon.schema import CACHE_HITS, CACHE_MISSES

    location = need_redis() if "Redis" in backend else "perfmon-counted"
    if backend.endswith("DatabaseCache"):
        from django.core.management import call_command

        call_command("createcachetable", "perfmon_counted")
        location = "perfmon_counted"
    settings.CACHES = {**settings.CACHES, "counted": {"BACKEND": backend, "LOCATION": location,
                                                      "KEY_PREFIX": uuid.uuid4().hex}}
    caches["counted"].get("read-outside-any-request")  # not a request's read: not counted
    assert client.get("/t/counted/k").json() == {"hit": False, "many": 1}  # get miss; get_many 1 hit, 1 miss
    assert client.get("/t/counted/k").json() == {"hit": True, "many": 1}  # get hit; get_many 1 hit, 1 miss
    assert recorder.flush()
    values = [v for k, v in _pending(redis_buffer).rows.items() if k[0] == HTTP and k[2] == "/t/counted/<str:key>"]
    assert sum(v[CACHE_HITS] for v in values) == 3 and sum(v[CACHE_MISSES] for v in values) == 3


def test_no_database_writes_on_the_request_path(db_buffer, recorder, client, django_assert_num_queries):
    """Even with the database as the buffer, a request runs only its own queries."""
    with django_assert_num_queries(3):
        assert client.get("/t/items/3").status_code == 200
    from perfmon.models import BufferBatch

    assert BufferBatch.objects.count() == 0
    assert recorder.flush()
    assert BufferBatch.objects.count() == 1


def test_embedded_default_database_buffer_end_to_end(db_buffer, recorder, viewer_client):
    for n in (1, 2):
        viewer_client.get(f"/t/items/{n}")
    assert recorder.flush()
    body = viewer_client.get("/api/performance/metrics/realtime").json()
    assert body["buffer"] == "database"
    assert body["requests"]["requests"] == 2
    assert rollup_minutes(now=timezone.now() + timedelta(minutes=2)).parts_applied == 1
    rows = TrafficMinute.objects.filter(route="/t/items/<int:n>")
    assert sum(r.count for r in rows) == 2 and sum(r.db_queries for r in rows) == 3
    assert rollup_minutes(now=timezone.now() + timedelta(minutes=2)).parts_applied == 0
    assert db_buffer.pending(since_minute=0).rows == {}


def test_a_view_that_raises_is_counted_even_when_the_exception_propagates(redis_buffer, recorder, client):
    with pytest.raises(RuntimeError):
        client.get("/t/boom")  # the test client re-raises what the view raised
    assert recorder.flush()
    assert _by_route(_pending(redis_buffer))[("/t/boom", "GET", 500)][0] == 1


def test_system_checks_name_a_bad_buffer_and_a_misplaced_middleware(settings):
    from perfmon.checks import check_metrics_pipeline

    settings.PERFMON = {**settings.PERFMON, "METRICS_BUFFER": "memcached://x"}
    settings.MIDDLEWARE = ["django.middleware.common.CommonMiddleware", "perfmon.middleware.RequestMetricsMiddleware"]
    ids = {message.id for message in check_metrics_pipeline(None)}
    assert ids == {"perfmon.E010", "perfmon.W010"}
