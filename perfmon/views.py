"""Liveness and readiness probes: plain Django views, no authentication, no throttling."""
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .health import readiness


@never_cache
@require_GET
def healthz(request):
    """The process is up. Checks nothing outside the process, by design."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    """Database, cache and broker reachable: 200; otherwise 503 naming what failed."""
    checks = readiness()
    failed = [c for c in checks if not c.ok]
    body = {
        "status": "unavailable" if failed else "ok",
        "failed": [f"{c.name} ({c.backend})" for c in failed],
        "checks": {c.name: c.as_dict() for c in checks},
    }
    return JsonResponse(body, status=503 if failed else 200)
