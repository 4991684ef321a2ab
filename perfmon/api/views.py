from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from perfmon.health import check_workers, readiness

_component = inline_serializer("ComponentStatus", {
    "name": serializers.CharField(), "backend": serializers.CharField(), "ok": serializers.BooleanField(),
    "latency_ms": serializers.FloatField(), "error": serializers.CharField(), "detail": serializers.CharField(),
})


class HealthView(APIView):
    """Each component the control plane depends on, with its status and latency."""

    @extend_schema(responses=inline_serializer("Health", {
        "status": serializers.ChoiceField(["ok", "degraded", "unavailable"]),
        "components": _component.__class__(many=True),
    }))
    def get(self, request):
        components = readiness() + [check_workers()]
        core_ok = all(c.ok for c in components[:-1])
        status = "ok" if all(c.ok for c in components) else ("degraded" if core_ok else "unavailable")
        return Response({"status": status, "components": [c.as_dict() for c in components]})
