"""The middleware under Django's ASGI handler (AsyncClient runs the real handler in
process): async views are counted, with their queries and cache reads, and requests
are served concurrently rather than one at a time through a sync adapter."""
import asyncio
import uuid

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient

from perfmon.schema import CACHE_HITS, CACHE_MISSES, COUNT, DB_QUERIES, HTTP
from tests.perfmon import urls
from tests.perfmon.test_middleware import _pending
from tests.support import need_postgres

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.perfmon.urls")]


@pytest.fixture
def counted_cache(settings):
    settings.CACHES = {**settings.CACHES, "counted": {"BACKEND": "perfmon.cache.LocMemCache",
                                                      "LOCATION": uuid.uuid4().hex}}


def _route(buffer, route):
    return [v for k, v in _pending(buffer).rows.items() if k[0] == HTTP and k[2] == route]


def test_async_views_are_counted_with_their_queries_and_cache_reads(redis_buffer, recorder, counted_cache):
    need_postgres()

    async def run():
        client = AsyncClient()
        return [await client.get("/t/async/12"), await client.get("/t/async/3")]

    responses = async_to_sync(run)()
    assert [r.status_code for r in responses] == [200, 200]
    assert responses[0].json()["hits"] == [True, False]
    assert recorder.flush()
    values = _route(redis_buffer, "/t/async/<int:n>")
    assert sum(v[COUNT] for v in values) == 2
    assert sum(v[DB_QUERIES] for v in values) == 15
    assert sum(v[CACHE_HITS] for v in values) == 2 and sum(v[CACHE_MISSES] for v in values) == 2


def test_async_requests_are_served_concurrently_through_the_middleware(redis_buffer, recorder, settings):
    # perfmon's two middlewares and Django's own, all async-capable (WhiteNoise, in this
    # project's stack, is sync-only: behind it Django serves async requests one at a time).
    settings.MIDDLEWARE = ["perfmon.middleware.RequestMetricsMiddleware", "perfmon.compression.CompressionMiddleware",
                           "django.middleware.common.CommonMiddleware"]
    urls.GATE.update(arrived=0, event=None)

    async def run():
        client = AsyncClient()
        return await asyncio.gather(*(client.get("/t/gate/3") for _ in range(3)))

    responses = async_to_sync(run)()
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert recorder.flush()
    assert sum(v[COUNT] for v in _route(redis_buffer, "/t/gate/<int:n>")) == 3
