"""Admin: upload, browse assets and variants, optimize and invalidate (each calls the service)."""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html

from perfmon.errors import ActionError

from . import services
from .conf import cdn_settings
from .models import Asset, Invalidation, LogFile, UsageDaily, Variant
from .serving import url_for


class UploadForm(forms.Form):
    file = forms.FileField()
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class VariantInline(admin.TabularInline):
    model = Variant
    extra = 0
    can_delete = False
    fields = ("format", "width", "height", "encoding", "bytes", "ssim", "link")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="URL")
    def link(self, obj: Variant) -> str:
        return format_html('<a href="{}">{}</a>', url_for(obj.storage_key), obj.storage_key.rsplit("/", 1)[-1])


def _report(modeladmin, request, label: str, call) -> None:
    try:
        call()
    except ActionError as exc:
        modeladmin.message_user(request, f"{label}: {exc.message}", messages.ERROR)
        return
    modeladmin.message_user(request, f"{label}: done", messages.SUCCESS)


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "size", "status", "variant_total", "optimized_at", "short_hash")
    list_filter = ("kind", "status")
    search_fields = ("name", "content_hash")
    readonly_fields = [f.name for f in Asset._meta.fields]
    inlines = [VariantInline]
    actions = ["optimize_asset", "invalidate_cdn"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="variants")
    def variant_total(self, obj: Asset) -> int:
        return obj.variants.count()

    def add_view(self, request, form_url="", extra_context=None):
        """Adding an asset is uploading a file through upload_asset."""
        if not self.has_add_permission(request):
            return super().add_view(request, form_url, extra_context)
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                if upload.size > cdn_settings.MAX_UPLOAD_BYTES:
                    from .errors import InvalidAsset

                    raise InvalidAsset(f"The file is {upload.size:,} bytes; the limit is "
                                       f"{cdn_settings.MAX_UPLOAD_BYTES:,} (CDN MAX_UPLOAD_BYTES).")
                result = services.upload_asset(name=upload.name, data=upload.read(), actor=request.user,
                                               reason=form.cleaned_data["reason"])
            except ActionError as exc:
                form.add_error("file", exc.message)
            else:
                self.message_user(request, "Uploaded; optimization queued." if result.created
                                  else "The same content is already an asset: nothing was added.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:cdn_asset_change", args=[result.asset_id]))
        return render(request, "admin/cdn/upload.html", {
            **self.admin_site.each_context(request), "title": "Upload an asset", "form": form,
            "opts": self.model._meta})

    def delete_model(self, request, obj: Asset) -> None:
        services.delete_asset(asset_id=obj.pk, actor=request.user, reason="deleted from the admin")

    def delete_queryset(self, request, queryset) -> None:
        for asset in queryset:
            _report(self, request, asset.name, lambda a=asset: services.delete_asset(
                asset_id=a.pk, actor=request.user, reason="deleted from the admin"))

    @admin.action(description="Optimize (rebuild variants)")
    def optimize_asset(self, request, queryset):
        for asset in queryset:
            _report(self, request, asset.name, lambda a=asset: services.optimize_asset(
                asset_id=a.pk, actor=request.user, reason="optimized from the admin"))

    @admin.action(description="Invalidate on the CDN")
    def invalidate_cdn(self, request, queryset):
        for asset in queryset:
            paths = ["/" + asset.original_key, *("/" + k for k in asset.variants.values_list("storage_key", flat=True))]
            _report(self, request, asset.name, lambda p=paths: services.invalidate_cdn(
                paths=p, actor=request.user, reason="invalidated from the admin", wait=False))


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Invalidation)
class InvalidationAdmin(ReadOnlyAdmin):
    list_display = ("idempotency_key", "backend", "status", "requested_by", "created_at", "completed_at")
    list_filter = ("status", "backend")
    actions = ["invalidate_cdn"]

    @admin.action(description="Run again (same key: follows or completes it, never duplicates)")
    def invalidate_cdn(self, request, queryset):
        for row in queryset:
            _report(self, request, row.idempotency_key, lambda r=row: services.invalidate_cdn(
                paths=r.paths, actor=request.user, reason="resumed from the admin", idempotency_key=r.idempotency_key,
                backend=r.backend, wait=False))


@admin.register(UsageDaily)
class UsageDailyAdmin(ReadOnlyAdmin):
    list_display = ("date", "path", "edge_location", "result_type", "hits", "bytes")
    list_filter = ("result_type", "region", "date")
    search_fields = ("path",)


@admin.register(LogFile)
class LogFileAdmin(ReadOnlyAdmin):
    list_display = ("name", "lines", "skipped", "ingested_at")
