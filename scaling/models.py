"""Scaling groups, their instances, policies and the events that changed them."""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q


class ScalingGroup(models.Model):
    """A set of identical instances kept between `min_instances` and `max_instances`.

    `desired_instances` is what the group was last asked to run; `decision_state`
    keeps what the decision code carries between ticks (recent recommendations for
    the scale-down stabilization window and recent changes for the rate limits).
    """

    name = models.SlugField(max_length=64, unique=True)
    backend = models.CharField(max_length=64, default="default", help_text="alias in SCALING_BACKENDS")
    backend_options = models.JSONField(default=dict, blank=True,
                                       help_text="per-group options merged over the backend's OPTIONS")
    min_instances = models.PositiveIntegerField(default=1)
    max_instances = models.PositiveIntegerField(default=10)
    desired_instances = models.PositiveIntegerField(default=0)
    enabled = models.BooleanField(default=True, help_text="autoscaling on; off means paused (manual only)")
    paused_reason = models.TextField(blank=True)
    warmup_seconds = models.PositiveIntegerField(default=30, help_text="from start request to ready")
    scale_up_cooldown_seconds = models.PositiveIntegerField(default=0)
    scale_down_cooldown_seconds = models.PositiveIntegerField(
        default=300, help_text="no scale-down this long after any scale event (original design: 300 s)")
    scale_down_stabilization_seconds = models.PositiveIntegerField(
        default=300, help_text="scale down only to the highest recommendation of this window")
    scale_up_limit_instances = models.PositiveIntegerField(default=4)
    scale_up_limit_percent = models.PositiveIntegerField(default=100)
    scale_down_limit_percent = models.PositiveIntegerField(default=100)
    rate_limit_period_seconds = models.PositiveIntegerField(default=15)
    decision_state = models.JSONField(default=dict, blank=True, editable=False)
    last_tick_at = models.DateTimeField(null=True, blank=True)
    last_scaled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(min_instances__lte=F("max_instances")),
                                   name="scalinggroup_min_le_max"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.min_instances > self.max_instances:
            raise ValidationError({"min_instances": f"minimum {self.min_instances} is above maximum "
                                                    f"{self.max_instances}"})


class Policy(models.Model):
    """One rule that proposes a desired instance count. See scaling/policies.py for params."""

    class Kind(models.TextChoices):
        THRESHOLD = "threshold", "threshold rules"
        TARGET = "target", "target tracking"
        PREDICTIVE = "predictive", "predictive floor"

    group = models.ForeignKey(ScalingGroup, on_delete=models.CASCADE, related_name="policies")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    metric = models.CharField(max_length=32)
    params = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["group", "position", "id"]
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return f"{self.group.name}: {self.kind} on {self.metric}"

    def clean(self) -> None:
        from .policies import PolicyConfigError, build_policy

        try:
            build_policy(self.kind, self.metric, self.params)
        except PolicyConfigError as exc:
            raise ValidationError(str(exc)) from None


class Instance(models.Model):
    class State(models.TextChoices):
        STARTING = "starting", "starting"
        READY = "ready", "ready"
        UNHEALTHY = "unhealthy", "unhealthy"
        DRAINING = "draining", "draining"
        STOPPED = "stopped", "stopped"

    LIVE_STATES = (State.STARTING, State.READY, State.UNHEALTHY)

    group = models.ForeignKey(ScalingGroup, on_delete=models.CASCADE, related_name="instances")
    instance_id = models.CharField(max_length=128, help_text="backend's id: pid@port, container id, pod name")
    address = models.CharField(max_length=255, blank=True)
    slot = models.PositiveIntegerField(default=0, help_text="index used for the port or name")
    state = models.CharField(max_length=10, choices=State.choices, default=State.STARTING, db_index=True)
    meta = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    last_health_at = models.DateTimeField(null=True, blank=True)
    last_health_ok = models.BooleanField(null=True)
    last_health_detail = models.CharField(max_length=255, blank=True)
    health_failures = models.PositiveIntegerField(default=0)
    latency_ms = models.FloatField(null=True, blank=True, help_text="last health probe round trip")
    cpu_percent = models.FloatField(null=True, blank=True)
    memory_percent = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["group", "slot", "id"]
        constraints = [
            models.UniqueConstraint(fields=["group", "instance_id"], name="instance_unique_per_group"),
        ]
        indexes = [models.Index(fields=["group", "state"], name="instance_group_state")]

    def __str__(self) -> str:
        return f"{self.group.name}/{self.instance_id} ({self.state})"


class ScalingEvent(models.Model):
    """A change (or a failed attempt) of a group's size or membership."""

    class Kind(models.TextChoices):
        AUTOSCALE = "autoscale", "autoscale"
        MANUAL = "manual", "manual override"
        HEALTH = "health", "health replacement"
        REPLACE = "replace", "replace instance"
        PAUSE = "pause", "pause autoscaling"
        RESUME = "resume", "resume autoscaling"

    class Result(models.TextChoices):
        OK = "ok", "ok"
        NOOP = "noop", "no change"
        PARTIAL = "partial", "partial"
        FAILED = "failed", "failed"

    group = models.ForeignKey(ScalingGroup, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    from_instances = models.PositiveIntegerField()
    to_instances = models.PositiveIntegerField()
    reached_instances = models.PositiveIntegerField(null=True, blank=True)
    reason = models.TextField(blank=True)
    metrics = models.JSONField(default=dict, blank=True, help_text="metric values that triggered it")
    decision = models.JSONField(default=dict, blank=True, help_text="each policy's proposal and the limits")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_label = models.CharField(max_length=150)
    result = models.CharField(max_length=8, choices=Result.choices, default=Result.OK)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["group", "-at"], name="scalingevent_group_recent")]

    def __str__(self) -> str:
        return f"{self.group.name}: {self.from_instances} -> {self.to_instances} ({self.kind}, {self.result})"


class LoadSample(models.Model):
    """The group's metrics as read by one tick: the predictive policy's history."""

    group = models.ForeignKey(ScalingGroup, on_delete=models.CASCADE, related_name="samples")
    at = models.DateTimeField(db_index=True)
    ready_instances = models.PositiveIntegerField()
    values = models.JSONField(default=dict)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["group", "-at"], name="loadsample_group_recent")]

    def __str__(self) -> str:
        return f"{self.group.name} @ {self.at:%Y-%m-%d %H:%M:%S}"
