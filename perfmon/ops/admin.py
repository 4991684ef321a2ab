from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from perfmon.admin import ReadOnlyAdmin
from perfmon.errors import ActionError
from perfmon.registry import choices as metric_choices

from . import services
from .models import (Alert, AlertRule, LiveSetting, Notification, NotificationChannel, OptimizationRun,
                     Recommendation, Silence)
from .notify import validate_target


def _each(modeladmin, request, queryset, call, done: str) -> None:
    """Run a service per selected object; report successes and each failure's message."""
    ok = 0
    for obj in queryset:
        try:
            call(obj)
            ok += 1
        except ActionError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.message}", messages.ERROR)
    if ok:
        modeladmin.message_user(request, f"{done}: {ok}", messages.SUCCESS)


class AlertRuleForm(forms.ModelForm):
    class Meta:
        model = AlertRule
        exclude = ["last_evaluated_at", "last_error"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["metric"] = forms.ChoiceField(choices=metric_choices(), help_text="from perfmon's registry")


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    form = AlertRuleForm
    list_display = ("name", "metric", "aggregation", "comparison", "threshold", "threshold_setting",
                    "for_seconds", "severity", "enabled", "last_evaluated_at", "last_error")
    list_filter = ("enabled", "severity", "metric")
    search_fields = ("name", "metric", "summary")
    readonly_fields = ("last_evaluated_at", "last_error")


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ("rule", "state", "severity", "labels", "value", "threshold", "started_at", "fired_at",
                    "resolved_at", "acknowledged_at", "silenced_by")
    list_filter = ("state", "severity", "rule")
    search_fields = ("rule__name", "fingerprint")
    date_hierarchy = "started_at"
    actions = ["acknowledge"]

    @admin.action(description="Acknowledge (stop repeat notifications)")
    def acknowledge(self, request, queryset):
        _each(self, request, queryset, lambda a: services.acknowledge_alert(
            alert_id=a.pk, actor=request.user, reason="admin"), "acknowledged")

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class SilenceForm(forms.ModelForm):
    class Meta:
        model = Silence
        fields = ["matchers", "starts_at", "ends_at", "comment"]


@admin.register(Silence)
class SilenceAdmin(admin.ModelAdmin):
    form = SilenceForm
    list_display = ("matchers", "starts_at", "ends_at", "comment", "created_by", "active")
    search_fields = ("comment",)
    date_hierarchy = "ends_at"
    actions = ["expire"]

    @admin.display(boolean=True)
    def active(self, obj) -> bool:
        return obj.starts_at <= timezone.now() < obj.ends_at

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        created = services.create_silence(matchers=obj.matchers, starts_at=obj.starts_at, ends_at=obj.ends_at,
                                          comment=obj.comment, actor=request.user)
        obj.pk = created.pk

    @admin.action(description="Expire now")
    def expire(self, request, queryset):
        _each(self, request, queryset, lambda s: services.expire_silence(
            silence_id=s.pk, actor=request.user, reason="admin"), "expired")


class ChannelForm(forms.ModelForm):
    class Meta:
        model = NotificationChannel
        fields = "__all__"

    def clean(self):
        data = super().clean()
        if data.get("kind") and data.get("target"):
            try:
                data["target"] = validate_target(data["kind"], data["target"])
            except ValueError as exc:
                self.add_error("target", str(exc))
        return data


@admin.register(NotificationChannel)
class NotificationChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    list_display = ("name", "kind", "min_severity", "send_resolved", "enabled")
    list_filter = ("kind", "enabled")
    search_fields = ("name",)

    def save_model(self, request, obj, form, change):
        saved = services.save_notification_channel(
            name=obj.name, kind=obj.kind, target=obj.target, actor=request.user, min_severity=obj.min_severity,
            send_resolved=obj.send_resolved, enabled=obj.enabled)
        obj.pk = saved.pk


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "channel", "status", "attempts", "sent_at", "error")
    list_filter = ("status", "channel")
    date_hierarchy = "created_at"


@admin.register(Recommendation)
class RecommendationAdmin(ReadOnlyAdmin):
    list_display = ("title", "kind", "subject", "impact", "status", "action", "last_seen_at")
    list_filter = ("status", "kind")
    search_fields = ("title", "subject", "detail")
    date_hierarchy = "created_at"
    actions = ["apply", "dismiss"]

    @admin.action(description="Apply (run its action)")
    def apply(self, request, queryset):
        _each(self, request, queryset, lambda r: services.apply_recommendation(
            recommendation_id=r.pk, actor=request.user, reason="admin"), "applied")

    @admin.action(description="Dismiss")
    def dismiss(self, request, queryset):
        _each(self, request, queryset, lambda r: services.dismiss_recommendation(
            recommendation_id=r.pk, actor=request.user, reason="admin"), "dismissed")


@admin.register(LiveSetting)
class LiveSettingAdmin(ReadOnlyAdmin):
    """Changed through the settings API or `manage.py`; every change is in the audit records."""

    list_display = ("name", "value", "updated_by", "updated_at")


@admin.register(OptimizationRun)
class OptimizationRunAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "kind", "status", "requested_by", "progress", "finished_at", "error")
    list_filter = ("status", "kind")
    date_hierarchy = "created_at"
    actions = ["optimize"]

    @admin.action(description="Optimize again (same type)")
    def optimize(self, request, queryset):
        kinds = sorted({run.kind for run in queryset})
        for kind in kinds:
            try:
                run = services.optimize(kind=kind, actor=request.user, reason="admin")
                self.message_user(request, f"optimize {kind}: run {run.pk} {run.status}", messages.SUCCESS)
            except ActionError as exc:
                self.message_user(request, exc.message, messages.ERROR)
