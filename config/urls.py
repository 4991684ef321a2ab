from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import include, path
from django.views import defaults
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token

from perfmon.api.errors import api_not_found, api_server_error
from perfmon.views import healthz, readyz

api_patterns = [
    path("", include("perfmon.api.urls")),
    path("", include("perfmon.ops.api.urls")),
    path("", include("scaling.api.urls")),
    path("", include("cdn.api.urls")),
    path("", include("dbopt.api.urls")),
]

urlpatterns = [
    path("", lambda request: HttpResponseRedirect("/admin/")),
    path("healthz", healthz, name="healthz"),
    path("livez", healthz, name="livez"),
    path("readyz", readyz, name="readyz"),
    path("", include("perfmon.urls_metrics")),
    path("admin/", admin.site.urls),
    path("api/performance/", include(api_patterns)),
    path("api/auth/token/", obtain_auth_token, name="api-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
]


def handler404(request, exception):
    if request.path.startswith("/api/"):
        return api_not_found(request, exception)
    return defaults.page_not_found(request, exception)


def handler500(request):
    if request.path.startswith("/api/"):
        return api_server_error(request)
    return defaults.server_error(request)
