"""Assets and their variants, invalidations, and daily CDN usage aggregates."""
from __future__ import annotations

from django.db import models


class Asset(models.Model):
    class Kind(models.TextChoices):
        IMAGE = "image"
        VIDEO = "video"
        SCRIPT = "script"
        STYLE = "style"
        FONT = "font"
        OTHER = "other"

    class Status(models.TextChoices):
        PENDING = "pending"
        READY = "ready"
        FAILED = "failed"

    name = models.CharField(max_length=255, help_text="The uploaded file name (sanitized).")
    content_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the original bytes.")
    kind = models.CharField(max_length=8, choices=Kind.choices, db_index=True)
    mime_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField(help_text="Bytes of the original.")
    original_key = models.CharField(max_length=500, unique=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    has_alpha = models.BooleanField(default=False)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    note = models.TextField(blank=True, help_text="Why something was not produced (no ffmpeg, ...).")
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    optimized_at = models.DateTimeField(null=True, blank=True)
    optimize_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.content_hash[:12]})"

    @property
    def short_hash(self) -> str:
        return self.content_hash[:16]


class Variant(models.Model):
    class Format(models.TextChoices):
        AVIF = "avif"
        WEBP = "webp"
        JPEG = "jpeg"
        PNG = "png"
        MIN = "min", "minified"
        ORIGINAL = "original", "original (precompressed)"
        MAP = "map", "source map"
        POSTER = "poster"

    class Encoding(models.TextChoices):
        IDENTITY = "identity"
        GZIP = "gzip"
        BR = "br"

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="variants")
    format = models.CharField(max_length=8, choices=Format.choices)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    encoding = models.CharField(max_length=8, choices=Encoding.choices, default=Encoding.IDENTITY)
    bytes = models.PositiveBigIntegerField()
    storage_key = models.CharField(max_length=500, unique=True)
    ssim = models.FloatField(null=True, blank=True, help_text="SSIM against the resized original (images).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["asset_id", "format", "width", "encoding"]
        constraints = [models.UniqueConstraint(fields=["asset", "format", "width", "encoding"],
                                               name="cdn_variant_unique", nulls_distinct=False)]

    def __str__(self) -> str:
        return self.storage_key


class Invalidation(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        IN_PROGRESS = "in_progress"
        COMPLETED = "completed"
        FAILED = "failed"

    backend = models.CharField(max_length=64, default="default")
    paths = models.JSONField(help_text="Paths as requested.")
    submitted_paths = models.JSONField(default=list, help_text="Paths sent, after wildcard collapse.")
    idempotency_key = models.CharField(max_length=128, unique=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True)
    external_ids = models.JSONField(default=list, blank=True, help_text="The CDN's ids, one per batch.")
    error = models.TextField(blank=True)
    requested_by = models.CharField(max_length=150, blank=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"invalidation {self.idempotency_key} ({self.status})"


class UsageDaily(models.Model):
    """CDN log lines summed per day, path, edge location and cache result."""

    date = models.DateField()
    path = models.CharField(max_length=500)
    asset = models.ForeignKey(Asset, null=True, blank=True, on_delete=models.SET_NULL, related_name="usage")
    variant = models.ForeignKey(Variant, null=True, blank=True, on_delete=models.SET_NULL, related_name="usage")
    edge_location = models.CharField(max_length=32)
    region = models.CharField(max_length=8, db_index=True, help_text="The edge's airport code (IAD, FRA, ...).")
    result_type = models.CharField(max_length=24)
    hits = models.PositiveBigIntegerField(default=0)
    bytes = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["date", "path", "edge_location", "result_type"],
                                               name="cdn_usage_daily_unique")]
        indexes = [models.Index(fields=["date", "asset"])]


class LogFile(models.Model):
    """A CDN log file already ingested (by name and content hash), so a rerun adds nothing."""

    name = models.CharField(max_length=500)
    sha256 = models.CharField(max_length=64, unique=True)
    lines = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    ingested_at = models.DateTimeField(auto_now_add=True)
