"""Admin: monitored databases (credentials never shown), findings with their actions,
snapshots and samples read-only. Actions call the services one object at a time."""
from django import forms
from django.contrib import admin, messages

from perfmon.errors import ActionError

from . import selectors, services
from .models import Finding, MonitoredDatabase, QuerySample, Snapshot


def _report(modeladmin, request, name: str, call) -> None:
    try:
        result = call()
    except ActionError as exc:
        modeladmin.message_user(request, f"{name}: {exc.message}", messages.ERROR)
        return
    text = getattr(result, "message", None) or getattr(result, "detail", None) or getattr(result, "status", "done")
    modeladmin.message_user(request, f"{name}: {text}", messages.SUCCESS)


class MonitoredDatabaseForm(forms.ModelForm):
    # The URL carries a password: write-only, never rendered back into the page.
    url = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False),
                          help_text="postgresql://user:password@host:5432/dbname (write-only; leave empty to keep)")

    class Meta:
        model = MonitoredDatabase
        fields = ("name", "alias", "url", "enabled")

    def clean_url(self):
        url = self.cleaned_data.get("url", "")
        if not url and self.instance.pk:
            return self.instance.url
        if url:
            from .connections import parse_url

            try:
                parse_url(url)
            except ActionError as exc:
                raise forms.ValidationError(exc.message) from None
        return url

    def clean(self):
        data = super().clean()
        if bool(data.get("alias")) == bool(data.get("url")):
            raise forms.ValidationError("Give either a settings alias or a URL.")
        return data


@admin.register(MonitoredDatabase)
class MonitoredDatabaseAdmin(admin.ModelAdmin):
    form = MonitoredDatabaseForm
    list_display = ("name", "display_target", "status", "status_detail", "server_version", "last_collected_at",
                    "enabled")
    list_filter = ("status", "enabled")
    search_fields = ("name", "alias")
    readonly_fields = ("display_target", "status", "status_detail", "server_version", "features",
                       "last_collected_at", "last_advised_at")
    actions = ["collect_now", "refresh_findings"]

    def save_model(self, request, obj, form, change):
        if change:  # name, enabled or a new URL: plain edits of the row
            return super().save_model(request, obj, form, change)
        created = services.add_database(name=obj.name, url=obj.url, alias=obj.alias, actor=request.user,
                                        reason="added in the admin")
        obj.pk, obj._state.adding = created.pk, False
        services.collect_database(database=created)

    def changelist_view(self, request, extra_context=None):
        for db in services.ensure_databases():
            message = selectors.support_message(db)
            if message:
                self.message_user(request, f"{db.name}: {message}", messages.WARNING)
        return super().changelist_view(request, extra_context)

    @admin.action(description="Collect statistics now")
    def collect_now(self, request, queryset):
        for db in queryset:
            _report(self, request, db.name, lambda d=db: services.collect_database(database=d))

    @admin.action(description="Refresh findings and index advice")
    def refresh_findings(self, request, queryset):
        for db in queryset:
            _report(self, request, db.name, lambda d=db: services.refresh_findings(database=d))


@admin.register(Finding)
class FindingAdmin(admin.ModelAdmin):
    list_display = ("title", "kind", "database", "impact", "action", "status", "last_seen_at")
    list_filter = ("status", "kind", "database")
    search_fields = ("subject", "title")
    readonly_fields = [f.name for f in Finding._meta.fields]
    list_select_related = ("database",)
    actions = ["apply_action"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Apply the finding's action (build/drop/vacuum/analyze/reindex)")
    def apply_action(self, request, queryset):
        for finding in queryset:
            _report(self, request, finding.title, lambda f=finding: services.act_on_finding(
                finding_id=f.pk, actor=request.user, reason=f"from the admin: {f.title}"))


@admin.register(Snapshot)
class SnapshotAdmin(admin.ModelAdmin):
    list_display = ("database", "kind", "taken_at")
    list_filter = ("kind", "database")
    readonly_fields = ("database", "kind", "taken_at", "data")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(QuerySample)
class QuerySampleAdmin(admin.ModelAdmin):
    list_display = ("fingerprint", "database", "duration_ms", "source", "seen_at")
    list_filter = ("source", "database")
    readonly_fields = ("database", "fingerprint", "sql", "duration_ms", "source", "seen_at")

    def has_add_permission(self, request) -> bool:
        return False
