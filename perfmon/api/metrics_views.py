"""The pipeline's read endpoints: realtime (from the buffer) and optimization."""
from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from perfmon import selectors
from perfmon.api_cache import conditional_response, read_through

WINDOWS = {"15m": timedelta(minutes=15), "1h": timedelta(hours=1), "6h": timedelta(hours=6),
           "24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


class WindowSerializer(serializers.Serializer):
    window = serializers.ChoiceField(choices=sorted(WINDOWS), default="1h")


class RealtimeView(APIView):
    """The last minute: request rate, error rate, p50/p95/p99, CPU, memory, cache hit
    rate, busiest and slowest routes, metrics dropped. Read from the buffer."""

    @extend_schema(responses={200: dict, 304: None})
    def get(self, request):
        return conditional_response(request, data=selectors.realtime())


class OptimizationView(APIView):
    """Cache hit rate against its 80 % target, slowest routes against the 200 ms target,
    slow queries and N+1 suspicions, compression savings, over a window."""

    @extend_schema(parameters=[OpenApiParameter("window", str, enum=sorted(WINDOWS))], responses={200: dict, 304: None})
    def get(self, request):
        params = WindowSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        window = params.validated_data["window"]
        # Up to the end of the current minute, so the latest rolled-up minute is in.
        end = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=1)
        read = read_through("perfmon.metrics", f"optimization:{window}:{end.isoformat()}",
                            lambda: selectors.optimization(end - WINDOWS[window], end))
        return conditional_response(request, read)
