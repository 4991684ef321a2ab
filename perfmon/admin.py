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
    search_fields = ("host",)
    date_hierarchy = "at"


# ----- the metrics pipeline (written by the rollup; read-only here) -------------------------
from .models import (BufferBatch, BufferCounter, HostHour, QueryHour, QueryMinute, QueryShape,  # noqa: E402
                     RollupClaim, RollupState, Sample, TrafficDay, TrafficHour, TrafficMinute, TrafficTotal)


class TrafficAdmin(ReadOnlyAdmin):
    list_display = ("bucket", "kind", "method", "route", "status", "count", "avg_ms", "duration_max_ms", "db_queries")
    list_filter = ("kind", "method", "status")
    search_fields = ("route",)
    date_hierarchy = "bucket"

    @admin.display(description="avg ms")
    def avg_ms(self, obj) -> str:
        return f"{obj.duration_sum_ms / obj.count:.1f}" if obj.count else "-"


admin.site.register(TrafficMinute, TrafficAdmin)
admin.site.register(TrafficHour, TrafficAdmin)
admin.site.register(TrafficDay, TrafficAdmin)


@admin.register(TrafficTotal)
class TrafficTotalAdmin(ReadOnlyAdmin):
    """Lifetime sums (what /metrics exposes in the database-buffer mode)."""

    list_display = ("kind", "method", "route", "status", "count", "duration_sum_ms", "duration_max_ms")
    list_filter = ("kind", "method", "status")
    search_fields = ("route",)


@admin.register(QueryMinute, QueryHour)
class QueryMinuteAdmin(ReadOnlyAdmin):
    list_display = ("bucket", "route", "fingerprint", "slow_count", "slow_max_ms", "nplus1_requests")
    search_fields = ("route", "fingerprint")
    date_hierarchy = "bucket"


@admin.register(QueryShape)
class QueryShapeAdmin(ReadOnlyAdmin):
    list_display = ("fingerprint", "sql", "first_seen")
    search_fields = ("fingerprint", "sql")


@admin.register(Sample)
class SampleAdmin(ReadOnlyAdmin):
    list_display = ("at", "name", "labels", "value")
    list_filter = ("name",)
    search_fields = ("name", "labels")
    date_hierarchy = "at"


@admin.register(HostHour)
class HostHourAdmin(ReadOnlyAdmin):
    list_display = ("hour", "host", "samples", "cpu_avg", "cpu_max", "memory_avg", "memory_max", "disk_max")
    list_filter = ("host",)
    search_fields = ("host",)
    date_hierarchy = "hour"

    @admin.display(description="CPU avg %")
    def cpu_avg(self, obj) -> str:
        return f"{obj.cpu_sum / obj.samples:.1f}" if obj.samples else "-"

    @admin.display(description="memory avg %")
    def memory_avg(self, obj) -> str:
        return f"{obj.memory_sum / obj.samples:.1f}" if obj.samples else "-"


@admin.register(BufferBatch)
class BufferBatchAdmin(ReadOnlyAdmin):
    """The embedded default's buffer: flushes waiting for the minute rollup."""

    list_display = ("id", "minute", "created_at")
    date_hierarchy = "created_at"


@admin.register(BufferCounter, RollupState)
class PipelineStateAdmin(ReadOnlyAdmin):
    """Counters (requests dropped while the buffer was down) and rollup watermarks."""

    list_display = ("name", "value")
    search_fields = ("name",)


@admin.register(RollupClaim)
class RollupClaimAdmin(ReadOnlyAdmin):
    """Buffer parts already applied: the rollup's exactly-once record."""

    list_display = ("token", "applied_at")
    date_hierarchy = "applied_at"
