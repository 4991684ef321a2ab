"""Admin: groups, instances, events and policies; actions call the services one by one."""
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Count, Q
from django.shortcuts import render

from perfmon.admin import ReadOnlyAdmin
from perfmon.errors import ActionError

from . import services
from .models import Instance, LoadSample, Policy, ScalingEvent, ScalingGroup


class PolicyInline(admin.TabularInline):
    model = Policy
    extra = 0
    fields = ("position", "kind", "metric", "params", "enabled")


class ScalingGroupForm(forms.ModelForm):
    class Meta:
        model = ScalingGroup
        fields = "__all__"

    def clean(self):
        """The backend alias and options must work for this group before it is saved."""
        from django.core.exceptions import ImproperlyConfigured

        from .backends import get_backend
        from .errors import BackendError

        data = super().clean()
        if data.get("backend") is None or not data.get("name"):
            return data
        try:
            get_backend(data["backend"]).spec(data["name"], data.get("backend_options") or {})
        except (ImproperlyConfigured, BackendError) as exc:
            self.add_error("backend_options" if isinstance(exc, BackendError) else "backend",
                           getattr(exc, "message", str(exc)))
        return data


class ScaleForm(forms.Form):
    instances = forms.IntegerField(min_value=0)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


def _report(modeladmin, request, name: str, call) -> None:
    try:
        result = call()
    except ActionError as exc:
        modeladmin.message_user(request, f"{name}: {exc.message}", messages.ERROR)
        return
    modeladmin.message_user(request, f"{name}: {getattr(result, 'message', 'done')}", messages.SUCCESS)


@admin.register(ScalingGroup)
class ScalingGroupAdmin(admin.ModelAdmin):
    form = ScalingGroupForm
    list_display = ("name", "backend", "min_instances", "desired_instances", "max_instances", "ready_instances",
                    "enabled", "last_tick_at", "last_scaled_at")
    list_filter = ("enabled", "backend")
    search_fields = ("name", "paused_reason")
    readonly_fields = ("desired_instances", "decision_state", "last_tick_at", "last_scaled_at", "created_at",
                       "updated_at")
    inlines = [PolicyInline]
    actions = ["scale_group", "pause_autoscaling", "resume_autoscaling"]

    def get_queryset(self, request):
        ready = Count("instances", filter=Q(instances__state=Instance.State.READY))
        return super().get_queryset(request).annotate(ready_count=ready)

    @admin.display(description="ready", ordering="ready_count")
    def ready_instances(self, group) -> int:
        return group.ready_count

    @admin.action(description="Scale to N instances (manual override)")
    def scale_group(self, request, queryset):
        form = ScaleForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            for group in queryset:
                _report(self, request, group.name, lambda g=group: services.scale_group(
                    group=g.name, instances=form.cleaned_data["instances"], actor=request.user,
                    reason=form.cleaned_data["reason"]))
            return None
        return render(request, "admin/scaling/scale_group.html", {
            **self.admin_site.each_context(request), "title": "Scale groups", "form": form,
            "groups": queryset, "action_checkbox_name": ACTION_CHECKBOX_NAME, "opts": self.model._meta})

    @admin.action(description="Pause autoscaling")
    def pause_autoscaling(self, request, queryset):
        for group in queryset:
            _report(self, request, group.name, lambda g=group: services.pause_autoscaling(
                group=g.name, actor=request.user, reason="paused from the admin"))

    @admin.action(description="Resume autoscaling")
    def resume_autoscaling(self, request, queryset):
        for group in queryset:
            _report(self, request, group.name, lambda g=group: services.resume_autoscaling(
                group=g.name, actor=request.user, reason="resumed from the admin"))


@admin.register(Instance)
class InstanceAdmin(admin.ModelAdmin):
    list_display = ("instance_id", "group", "state", "address", "started_at", "ready_at", "last_health_ok",
                    "latency_ms", "cpu_percent", "memory_percent")
    list_filter = ("state", "group", "last_health_ok")
    search_fields = ("instance_id", "address", "last_health_detail")
    list_select_related = ("group",)
    actions = ["replace_instance"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Replace instance (start a new one, then retire this one)")
    def replace_instance(self, request, queryset):
        for inst in queryset.select_related("group"):
            _report(self, request, inst.instance_id, lambda i=inst: services.replace_instance(
                group=i.group.name, instance_id=i.instance_id, actor=request.user, reason="replaced from the admin"))


@admin.register(ScalingEvent)
class ScalingEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "group", "kind", "from_instances", "to_instances", "reached_instances", "result",
                    "actor_label", "reason")
    list_filter = ("kind", "result", "group")
    search_fields = ("reason", "error", "actor_label", "group__name")
    date_hierarchy = "at"
    list_select_related = ("group",)


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    list_display = ("group", "position", "kind", "metric", "params", "enabled")
    list_filter = ("kind", "metric", "enabled", "group")
    search_fields = ("group__name", "metric")
    list_select_related = ("group",)


@admin.register(LoadSample)
class LoadSampleAdmin(admin.ModelAdmin):
    list_display = ("at", "group", "ready_instances", "values")
    list_filter = ("group",)
    date_hierarchy = "at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
