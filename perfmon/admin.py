from django.contrib import admin

from .models import AuditRecord, HostSample


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written by the system: visible, never edited or added by hand."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AuditRecord)
class AuditRecordAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "action", "target", "actor_label", "result", "reason")
    list_filter = ("result", "action")
    search_fields = ("action", "target", "actor_label", "reason", "error")
    date_hierarchy = "created_at"


@admin.register(HostSample)
class HostSampleAdmin(ReadOnlyAdmin):
    list_display = ("at", "host", "cpu_percent", "memory_percent", "swap_percent", "disk_percent", "load1")
    list_filter = ("host",)
    date_hierarchy = "at"
