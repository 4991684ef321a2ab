"""The project's URLs plus a few views with known behaviour, for the middleware tests."""
import asyncio

from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.urls import path

from config.urls import urlpatterns as project_urlpatterns
from perfmon.api_cache import read_through


def items(request, n):
    """n queries of one shape (an N+1 when n is large)."""
    users = get_user_model().objects
    found = sum(users.filter(pk=i).exists() for i in range(n))
    return JsonResponse({"n": n, "found": found})


def literals(request, n):
    """n statements of one shape whose text differs: literals inlined (raw SQL, ORMs that
    inline values) and IN lists of growing length."""
    with connection.cursor() as cursor:
        for i in range(n):
            cursor.execute(f"SELECT id FROM auth_user WHERE id = {i} AND username <> 'u{i}'")
            cursor.execute("SELECT id FROM auth_user WHERE id IN (" + ", ".join(["%s"] * (i + 2)) + ")",
                           list(range(i + 2)))
    return HttpResponse(str(n))


def slow(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(%s), 'secret-literal'", [0.05])
    return HttpResponse("slow")


def boom(request):
    raise RuntimeError("this view fails")


def cached(request, key):
    read = read_through("tests.perfmon", key, lambda: {"key": key, "payload": "x" * 50})
    return JsonResponse({"hit": read.hit, **read.data})


def counted(request, key):
    """Plain Django cache reads through the "counted" alias (a perfmon.cache backend)."""
    store = caches["counted"]
    value = store.get(key)
    if value is None:
        store.set(key, "v", 60)
    many = store.get_many([key, f"{key}:absent"])
    return JsonResponse({"hit": value is not None, "many": len(many)})


async def async_items(request, n):
    """An async view: n async ORM queries and two cache reads through a counting backend."""
    users = get_user_model().objects
    found = 0
    for i in range(n):
        found += await users.filter(pk=i).aexists()
    store = caches["counted"]
    await store.aset("async-key", "v")
    hits = [await store.aget("async-key") is not None, await store.aget("async-absent") is not None]
    return JsonResponse({"n": n, "found": found, "hits": hits})


GATE = {"arrived": 0, "event": None}


async def gate(request, n):
    """Answers once n requests are inside it at the same time: a stack that serves async
    requests one at a time never opens it."""
    if GATE["event"] is None:
        GATE["event"] = asyncio.Event()
    GATE["arrived"] += 1
    if GATE["arrived"] >= n:
        GATE["event"].set()
    await asyncio.wait_for(GATE["event"].wait(), 10)
    return HttpResponse("open")


def big(request):
    return JsonResponse({"rows": [{"id": i, "name": f"row number {i}", "ok": True} for i in range(200)]})


def text(request, size):
    return HttpResponse("a" * size, content_type="text/plain")


urlpatterns = [
    path("t/items/<int:n>", items),
    path("t/literals/<int:n>", literals),
    path("t/slow", slow),
    path("t/boom", boom),
    path("t/cached/<str:key>", cached),
    path("t/counted/<str:key>", counted),
    path("t/async/<int:n>", async_items),
    path("t/gate/<int:n>", gate),
    path("t/big", big),
    path("t/text/<int:size>", text),
    *project_urlpatterns,
]
handler404 = "config.urls.handler404"
handler500 = "config.urls.handler500"
