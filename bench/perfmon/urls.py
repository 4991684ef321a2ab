from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.urls import include, path


def trivial(request):
    return HttpResponse(b"ok", content_type="text/plain")


def three_queries(request):
    users = get_user_model().objects
    found = users.filter(pk=1).exists() + users.filter(pk=2).exists() + users.filter(is_staff=True).exists()
    return HttpResponse(str(found).encode(), content_type="text/plain")


urlpatterns = [
    path("bench/ready", trivial),  # the start-up probe, so the measured views' counts are exact
    path("bench/trivial", trivial),
    path("bench/three", three_queries),
    path("", include("perfmon.urls_metrics")),
]
