"""The project's URLs plus a few views with known behaviour, for the middleware tests."""
from django.contrib.auth import get_user_model
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


def slow(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(%s), 'secret-literal'", [0.05])
    return HttpResponse("slow")


def boom(request):
    raise RuntimeError("this view fails")


def cached(request, key):
    read = read_through("tests.perfmon", key, lambda: {"key": key, "payload": "x" * 50})
    return JsonResponse({"hit": read.hit, **read.data})


def big(request):
    return JsonResponse({"rows": [{"id": i, "name": f"row number {i}", "ok": True} for i in range(200)]})


def text(request, size):
    return HttpResponse("a" * size, content_type="text/plain")


urlpatterns = [
    path("t/items/<int:n>", items),
    path("t/slow", slow),
    path("t/boom", boom),
    path("t/cached/<str:key>", cached),
    path("t/big", big),
    path("t/text/<int:size>", text),
    *project_urlpatterns,
]
handler404 = "config.urls.handler404"
handler500 = "config.urls.handler500"
