from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class AlertRule(models.Model):
    """A condition over one registry metric, in the manner of a Prometheus rule:
    `aggregation(metric{label filters}[window]) comparison threshold`, held for `for_seconds`."""

    class Comparison(models.TextChoices):
        GT = ">", "above"
        GTE = ">=", "at or above"
        LT = "<", "below"
        LTE = "<=", "at or below"

    class Severity(models.TextChoices):
        INFO = "info", "info"
        WARNING = "warning", "warning"
        CRITICAL = "critical", "critical"

    name = models.CharField(max_length=120, unique=True)
    metric = models.CharField(max_length=120, help_text="a metric name from perfmon's registry")
    label_filters = models.JSONField(default=dict, blank=True, help_text='e.g. {"route": "/api/orders/"}')
    aggregation = models.CharField(max_length=10, default="avg")
    window_seconds = models.PositiveIntegerField(default=300)
    comparison = models.CharField(max_length=2, choices=Comparison.choices, default=Comparison.GT)
    threshold = models.FloatField(null=True, blank=True)
    threshold_setting = models.CharField(
        max_length=60, blank=True,
        help_text="take the threshold from this live setting (e.g. HIGH_CPU_THRESHOLD) instead")
    for_seconds = models.PositiveIntegerField(default=0, help_text="how long the condition must hold to fire")
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    labels = models.JSONField(default=dict, blank=True, help_text="added to every alert of this rule")
    summary = models.CharField(max_length=255, blank=True)
    enabled = models.BooleanField(default=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, help_text="why the last evaluation failed, if it did")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.CheckConstraint(
            condition=Q(threshold__isnull=False) | ~Q(threshold_setting=""), name="alertrule_has_threshold")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from perfmon import registry

        from . import live_settings

        errors: dict[str, str] = {}
        try:
            metric = registry.get(self.metric)
            if self.aggregation not in metric.aggregations:
                errors["aggregation"] = f"{self.metric} supports {', '.join(metric.aggregations)}"
            unknown = set(self.label_filters or {}) - set(metric.labels)
            if unknown:
                errors["label_filters"] = (f"{self.metric} has no label {', '.join(sorted(unknown))}; "
                                           f"its labels: {', '.join(metric.labels) or 'none'}")
        except registry.UnknownMetric as exc:
            errors["metric"] = str(exc)
        if not isinstance(self.label_filters, dict):
            errors["label_filters"] = "must be an object of label -> value"
        if not isinstance(self.labels, dict):
            errors["labels"] = "must be an object of label -> value"
        if self.threshold is None and not self.threshold_setting:
            errors["threshold"] = "give a threshold, or a setting to take it from"
        if self.threshold_setting and self.threshold_setting not in live_settings.SPECS:
            errors["threshold_setting"] = f"must be one of {', '.join(live_settings.SPECS)}"
        if self.window_seconds < 1:
            errors["window_seconds"] = "must be at least 1"
        if errors:
            raise ValidationError(errors)


class Alert(models.Model):
    """One alert per rule and label set while it is pending or firing; resolved ones are history."""

    class State(models.TextChoices):
        PENDING = "pending", "pending"
        FIRING = "firing", "firing"
        RESOLVED = "resolved", "resolved"

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    fingerprint = models.CharField(max_length=64, help_text="hash of the rule and the label set")
    labels = models.JSONField(default=dict)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING, db_index=True)
    severity = models.CharField(max_length=10, choices=AlertRule.Severity.choices)
    value = models.FloatField(help_text="the metric value at the last evaluation")
    threshold = models.FloatField()
    started_at = models.DateTimeField(help_text="when the condition was first seen")
    fired_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    last_evaluated_at = models.DateTimeField()
    last_notified_at = models.DateTimeField(null=True, blank=True)
    notified_state = models.CharField(max_length=10, blank=True, help_text="the state last sent to channels")
    silenced_by = models.ForeignKey("Silence", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                        on_delete=models.SET_NULL, related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [models.UniqueConstraint(
            fields=["rule", "fingerprint"], condition=Q(state__in=["pending", "firing"]),
            name="one_active_alert_per_rule_and_labels")]
        indexes = [models.Index(fields=["state", "severity", "-started_at"], name="alert_state_recent")]

    def __str__(self) -> str:
        return f"{self.rule.name} {self.labels} {self.state}"


class Silence(models.Model):
    """Mutes notifications for alerts whose labels match every matcher until `ends_at`."""

    matchers = models.JSONField(help_text='label -> value, e.g. {"alertname": "High CPU", "host": "web-1"}')
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    comment = models.CharField(max_length=255)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-ends_at"]

    def __str__(self) -> str:
        return f"silence {self.matchers} until {self.ends_at:%Y-%m-%d %H:%M}"

    def matches(self, labels: dict[str, str]) -> bool:
        return all(str(labels.get(key)) == str(value) for key, value in self.matchers.items())


class NotificationChannel(models.Model):
    class Kind(models.TextChoices):
        EMAIL = "email", "email"
        SLACK = "slack", "Slack-compatible webhook"
        WEBHOOK = "webhook", "generic JSON webhook"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    target = models.TextField(help_text="webhook URL, or comma-separated e-mail addresses")
    min_severity = models.CharField(max_length=10, choices=AlertRule.Severity.choices,
                                    default=AlertRule.Severity.WARNING)
    send_resolved = models.BooleanField(default=True)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class Notification(models.Model):
    """One grouped message to one channel; retried by Celery until sent or given up."""

    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        SENT = "sent", "sent"
        FAILED = "failed", "failed"

    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="notifications")
    alerts = models.ManyToManyField(Alert, related_name="notifications")
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"to {self.channel.name}: {self.status}"


class Recommendation(models.Model):
    """Advice from a rule over the metrics, with its evidence and, where one exists, an action."""

    class Status(models.TextChoices):
        OPEN = "open", "open"
        APPLIED = "applied", "applied"
        DISMISSED = "dismissed", "dismissed"
        GONE = "gone", "no longer observed"

    kind = models.CharField(max_length=60, db_index=True, help_text="the rule that made it, e.g. perfmon.n_plus_one")
    subject = models.CharField(max_length=255, help_text="what it is about: a route, a table, an asset")
    title = models.CharField(max_length=255)
    detail = models.TextField(blank=True)
    evidence = models.JSONField(default=dict)
    impact = models.FloatField(default=0, help_text="estimated benefit, for ranking (e.g. seconds saved per hour)")
    action = models.CharField(max_length=60, blank=True, help_text="the action that applies it, if any")
    action_params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    result = models.JSONField(default=dict, blank=True, help_text="what applying it did")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    class Meta:
        ordering = ["-impact", "-created_at"]
        constraints = [models.UniqueConstraint(fields=["kind", "subject"], condition=Q(status="open"),
                                               name="one_open_recommendation_per_subject")]

    def __str__(self) -> str:
        return self.title


class LiveSetting(models.Model):
    """An admin's override of a setting, effective on every process within seconds."""

    name = models.CharField(max_length=60, unique=True)
    value = models.JSONField()
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    def __str__(self) -> str:
        return f"{self.name} = {self.value!r}"


class OptimizationRun(models.Model):
    """One run of the optimization passes, started from the API, the admin or manage.py."""

    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        DONE = "done", "done"
        FAILED = "failed", "failed"

    kind = models.CharField(max_length=10, help_text="cache, database, cdn or all")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    reason = models.CharField(max_length=255, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    progress = models.JSONField(default=dict, help_text="pass -> state")
    result = models.JSONField(default=dict)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["kind"], condition=Q(status__in=["queued", "running"]),
                                               name="one_active_optimization_per_kind")]

    def __str__(self) -> str:
        return f"optimize {self.kind}: {self.status}"
