from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, renderers, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from perfmon.ops import live_settings, services
from perfmon.ops.models import Alert, OptimizationRun, Recommendation, Silence

from . import serializers as s


def _settings_body() -> dict:
    values = live_settings.effective()
    from perfmon.ops.models import LiveSetting

    overridden = set(LiveSetting.objects.values_list("name", flat=True))
    return {name: {"value": values[name], "default": spec.env_default(), "unit": spec.unit,
                   "description": spec.description, "source": "admin" if name in overridden else "environment"}
            for name, spec in live_settings.SPECS.items()}


class SettingsView(APIView):
    """Thresholds, scaling limits and switches. PUT (staff) a partial object of name -> value;
    null puts a setting back to the environment's value."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response(_settings_body())

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT})
    def put(self, request):
        if not isinstance(request.data, dict) or not request.data:
            return Response({"error": {"status": 400, "code": "invalid",
                                       "message": "send a JSON object of setting names to values"}}, status=400)
        services.update_settings(changes=dict(request.data), actor=request.user,
                                 reason=request.headers.get("X-Change-Reason", ""))
        return Response(_settings_body())

    patch = put


@extend_schema(parameters=[OpenApiParameter("state", str, enum=["pending", "firing", "resolved"]),
                           OpenApiParameter("severity", str, enum=["info", "warning", "critical"])])
class AlertListView(generics.ListAPIView):
    serializer_class = s.AlertSerializer

    def get_queryset(self):
        queryset = Alert.objects.select_related("rule")
        for name, choices in (("state", Alert.State.values), ("severity", ["info", "warning", "critical"])):
            value = self.request.query_params.get(name)
            if value:
                if value not in choices:
                    raise serializers.ValidationError({name: [f"must be one of {', '.join(choices)}"]})
                queryset = queryset.filter(**{name: value})
        return queryset


class AlertAcknowledgeView(APIView):
    @extend_schema(request=s.ReasonSerializer, responses=s.AlertSerializer)
    def post(self, request, pk):
        body = s.ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        alert = services.acknowledge_alert(alert_id=pk, actor=request.user, reason=body.validated_data["reason"])
        return Response(s.AlertSerializer(alert).data)


class SilenceListView(generics.ListAPIView):
    serializer_class = s.SilenceSerializer
    queryset = Silence.objects.all()

    @extend_schema(request=s.SilenceCreateSerializer, responses={201: s.SilenceSerializer})
    def post(self, request):
        body = s.SilenceCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        silence = services.create_silence(actor=request.user, **body.validated_data)
        return Response(s.SilenceSerializer(silence).data, status=status.HTTP_201_CREATED)


class SilenceExpireView(APIView):
    @extend_schema(request=s.ReasonSerializer, responses=s.SilenceSerializer)
    def post(self, request, pk):
        body = s.ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        silence = services.expire_silence(silence_id=pk, actor=request.user, reason=body.validated_data["reason"])
        return Response(s.SilenceSerializer(silence).data)


@extend_schema(parameters=[OpenApiParameter("status", str, enum=Recommendation.Status.values)])
class RecommendationListView(generics.ListAPIView):
    serializer_class = s.RecommendationSerializer

    def get_queryset(self):
        value = self.request.query_params.get("status", "open")
        if value not in Recommendation.Status.values:
            raise serializers.ValidationError({"status": [f"must be one of {', '.join(Recommendation.Status.values)}"]})
        return Recommendation.objects.filter(status=value)


class RecommendationActionView(APIView):
    verb = "apply"

    @extend_schema(request=s.ReasonSerializer, responses=s.RecommendationSerializer)
    def post(self, request, pk):
        body = s.ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        act = services.apply_recommendation if self.verb == "apply" else services.dismiss_recommendation
        rec = act(recommendation_id=pk, actor=request.user, reason=body.validated_data["reason"])
        return Response(s.RecommendationSerializer(rec).data)


class OptimizeView(APIView):
    """Start the optimization passes (staff only) as a Celery job; follow it at status_url."""

    @extend_schema(request=s.OptimizeRequestSerializer, responses={202: s.OptimizationRunSerializer})
    def post(self, request):
        body = s.OptimizeRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        run = services.optimize(kind=body.validated_data["type"], actor=request.user,
                                reason=body.validated_data["reason"])
        data = s.OptimizationRunSerializer(run).data
        data["status_url"] = request.build_absolute_uri(f"/api/performance/optimize/{run.pk}")
        return Response(data, status=status.HTTP_202_ACCEPTED)


class OptimizeStatusView(generics.RetrieveAPIView):
    serializer_class = s.OptimizationRunSerializer
    queryset = OptimizationRun.objects.all()


class _CSVRenderer(renderers.BaseRenderer):
    """Lets `?format=csv` through DRF's content negotiation; the view writes the CSV itself."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class ReportView(APIView):
    """The performance report for a period, as JSON or CSV (`format=csv`)."""

    renderer_classes = [renderers.JSONRenderer, renderers.BrowsableAPIRenderer, _CSVRenderer]

    def perform_content_negotiation(self, request, force=False):
        # An unknown ?format= is this view's to report (a 400 naming the field), not a 404.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(parameters=[OpenApiParameter("period", str, enum=["hour", "day", "week", "month"]),
                               OpenApiParameter("format", str, enum=["json", "csv"])],
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        from django.http import HttpResponse

        from perfmon.ops.reports import PERIODS, build_report, render_csv

        period = request.query_params.get("period", "day")
        fmt = request.query_params.get("format", "json")
        errors = {}
        if period not in PERIODS:
            errors["period"] = [f"must be one of {', '.join(PERIODS)}"]
        if fmt not in ("json", "csv"):
            errors["format"] = ["must be json or csv"]
        if errors:
            raise serializers.ValidationError(errors)
        report = build_report(period=period)
        if fmt == "csv":
            response = HttpResponse(render_csv(report), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="performance-{period}.csv"'
            return response
        return Response(report)


class DashboardView(APIView):
    """Everything the operator dashboard shows, in one call (`range`: hour, day or week)."""

    @extend_schema(parameters=[OpenApiParameter("range", str, enum=["hour", "day", "week"])],
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        from perfmon.api_cache import conditional_response
        from perfmon.ops.dashboard import RANGES, cached_dashboard

        range_name = request.query_params.get("range", "hour")
        if range_name not in RANGES:
            raise serializers.ValidationError({"range": [f"must be one of {', '.join(RANGES)}"]})
        return conditional_response(request, cached_dashboard(range_name))
