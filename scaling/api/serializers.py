from rest_framework import serializers

from ..decision import ALL_METRICS
from ..models import Instance, Policy, ScalingEvent


class ScalingInstanceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Instance
        fields = ["instance_id", "address", "slot", "state", "started_at", "ready_at", "last_health_at",
                  "last_health_ok", "last_health_detail", "latency_ms", "cpu_percent", "memory_percent"]


class ScalingEventSerializer(serializers.ModelSerializer):
    group = serializers.CharField(source="group.name")

    class Meta:
        model = ScalingEvent
        fields = ["id", "group", "at", "kind", "from_instances", "to_instances", "reached_instances", "reason",
                  "metrics", "decision", "actor_label", "result", "error"]


class ScalingPolicySerializer(serializers.ModelSerializer):
    class Meta:
        model = Policy
        fields = ["kind", "metric", "params", "enabled"]


class ScalingProposalSerializer(serializers.Serializer):
    policy = serializers.CharField()
    desired = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField()
    floor = serializers.BooleanField()


class ScalingNextDecisionSerializer(serializers.Serializer):
    current = serializers.IntegerField(required=False)
    desired = serializers.IntegerField(required=False)
    recommendation = serializers.IntegerField(required=False)
    direction = serializers.CharField(required=False)
    reason = serializers.CharField(required=False)
    steps = serializers.ListField(child=serializers.CharField(), required=False)
    proposals = ScalingProposalSerializer(many=True, required=False)
    metrics = serializers.DictField(child=serializers.FloatField())
    would_apply = serializers.BooleanField(required=False)
    error = serializers.CharField(required=False)


class ScalingGroupSerializer(serializers.Serializer):
    name = serializers.CharField(source="group.name")
    backend = serializers.CharField(source="group.backend")
    min_instances = serializers.IntegerField(source="group.min_instances")
    max_instances = serializers.IntegerField(source="group.max_instances")
    desired_instances = serializers.IntegerField(source="group.desired_instances")
    enabled = serializers.BooleanField(source="group.enabled")
    paused_reason = serializers.CharField(source="group.paused_reason")
    last_tick_at = serializers.DateTimeField(source="group.last_tick_at")
    last_scaled_at = serializers.DateTimeField(source="group.last_scaled_at")
    policies = ScalingPolicySerializer(source="group.policies.all", many=True)
    instances = ScalingInstanceSerializer(many=True)
    events = ScalingEventSerializer(many=True)
    next = ScalingNextDecisionSerializer(help_text="what the next tick would decide now, and why")


class ScalingOverviewSerializer(serializers.Serializer):
    groups = ScalingGroupSerializer(many=True)


class ScalingScaleRequestSerializer(serializers.Serializer):
    group = serializers.SlugField(max_length=64)
    instances = serializers.IntegerField(min_value=0, max_value=10_000)
    reason = serializers.CharField(max_length=2000, trim_whitespace=True)


class ScalingReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class ScalingMetricsRequestSerializer(serializers.Serializer):
    values = serializers.DictField(child=serializers.FloatField(min_value=0),
                                   help_text=f"metric -> value; known: {', '.join(ALL_METRICS)}")


