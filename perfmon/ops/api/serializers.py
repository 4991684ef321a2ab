from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from perfmon.ops.models import Alert, OptimizationRun, Recommendation, Silence


class AlertSerializer(serializers.ModelSerializer):
    rule = serializers.CharField(source="rule.name")
    metric = serializers.CharField(source="rule.metric")
    silenced = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = ["id", "rule", "metric", "labels", "state", "severity", "value", "threshold", "started_at",
                  "fired_at", "resolved_at", "last_evaluated_at", "last_notified_at", "acknowledged_at",
                  "silenced"]

    def get_silenced(self, alert) -> bool:
        return alert.silenced_by_id is not None


class RecommendationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Recommendation
        fields = ["id", "kind", "subject", "title", "detail", "evidence", "impact", "action", "action_params",
                  "status", "result", "created_at", "updated_at", "last_seen_at"]


class SilenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Silence
        fields = ["id", "matchers", "starts_at", "ends_at", "comment", "created_at"]


class SilenceCreateSerializer(serializers.Serializer):
    matchers = serializers.DictField(child=serializers.CharField(max_length=200), allow_empty=False)
    ends_at = serializers.DateTimeField()
    starts_at = serializers.DateTimeField(required=False)
    comment = serializers.CharField(max_length=255)


@extend_schema_serializer(component_name="OpsActionReason")
class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class OptimizeRequestSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["cache", "database", "cdn", "all"])
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class OptimizationRunSerializer(serializers.ModelSerializer):
    type = serializers.CharField(source="kind")

    class Meta:
        model = OptimizationRun
        fields = ["id", "type", "status", "task_id", "progress", "result", "error", "reason", "created_at",
                  "started_at", "finished_at"]
