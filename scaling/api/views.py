"""Thin views: validate shape, call the service, report."""
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors, services
from ..models import ScalingEvent
from .serializers import (
    ScalingEventSerializer,
    ScalingMetricsRequestSerializer,
    ScalingOverviewSerializer,
    ScalingReasonSerializer,
    ScalingScaleRequestSerializer,
)


class ScalingOverviewView(APIView):
    """Groups, their instances, recent events, current metrics and the next tick's decision."""

    @extend_schema(responses=ScalingOverviewSerializer)
    def get(self, request):
        group = request.query_params.get("group")
        rows = selectors.groups_overview()
        if group:
            rows = [r for r in rows if r["group"].name == group]
            if not rows:
                services.get_group(group)  # raises the readable 404
        return Response(ScalingOverviewSerializer({"groups": rows}).data)


class ScaleView(APIView):
    """Manual override (staff): run N instances now, with a reason. Returns the event."""

    @extend_schema(request=ScalingScaleRequestSerializer, responses=ScalingEventSerializer)
    def post(self, request):
        body = ScalingScaleRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = services.scale_group(actor=request.user, **body.validated_data)
        return Response(ScalingEventSerializer(ScalingEvent.objects.select_related("group").get(pk=result.event_id)).data)


class PauseView(APIView):
    @extend_schema(request=ScalingReasonSerializer, responses=None)
    def post(self, request, group):
        body = ScalingReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        g = services.pause_autoscaling(group=group, actor=request.user, reason=body.validated_data["reason"])
        return Response({"group": g.name, "enabled": g.enabled})


class ResumeView(APIView):
    @extend_schema(request=ScalingReasonSerializer, responses=None)
    def post(self, request, group):
        body = ScalingReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        g = services.resume_autoscaling(group=group, actor=request.user, reason=body.validated_data["reason"])
        return Response({"group": g.name, "enabled": g.enabled})


class ReplaceInstanceView(APIView):
    @extend_schema(request=ScalingReasonSerializer, responses=ScalingEventSerializer)
    def post(self, request, group, instance_id):
        body = ScalingReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = services.replace_instance(group=group, instance_id=instance_id, actor=request.user,
                                           reason=body.validated_data["reason"])
        return Response(ScalingEventSerializer(ScalingEvent.objects.select_related("group").get(pk=result.event_id)).data)


class ReportMetricsView(APIView):
    """An outside system (load balancer, log shipper) reports the group's load (staff token)."""

    @extend_schema(request=ScalingMetricsRequestSerializer, responses=None)
    def post(self, request, group):
        body = ScalingMetricsRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        stored = services.report_metrics(group=group, values=body.validated_data["values"], actor=request.user)
        return Response({"group": group, **stored})
