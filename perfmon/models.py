from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditRecord(models.Model):
    """One row per action: who, what, why, before and after, and how it ended.

    Written by `perfmon.audit.audited`, never edited afterwards (the admin shows
    it read-only). `idempotency_key`, when given, is unique: a second call with
    the same key finds the first record instead of acting twice.
    """

    class Result(models.TextChoices):
        STARTED = "started", "started"
        OK = "ok", "ok"
        NOOP = "noop", "no change"
        FAILED = "failed", "failed"

    action = models.CharField(max_length=80, db_index=True, help_text="app.verb_noun, e.g. scaling.scale_group")
    target = models.CharField(max_length=255, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_label = models.CharField(max_length=150, help_text="user name, or the system component")
    reason = models.TextField(blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    result = models.CharField(max_length=10, choices=Result.choices, default=Result.STARTED)
    error = models.TextField(blank=True)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["action", "-created_at"], name="audit_action_recent")]

    def __str__(self) -> str:
        return f"{self.action} {self.target} by {self.actor_label}: {self.result}"


class HostSample(models.Model):
    """A psutil reading of one host at one moment, written by the host collector."""

    host = models.CharField(max_length=255)
    at = models.DateTimeField(db_index=True)
    cpu_percent = models.FloatField()
    load1 = models.FloatField()
    load5 = models.FloatField()
    load15 = models.FloatField()
    memory_percent = models.FloatField()
    swap_percent = models.FloatField()
    disk_percent = models.FloatField()
    disk_read_bytes = models.BigIntegerField()
    disk_write_bytes = models.BigIntegerField()
    net_sent_bytes = models.BigIntegerField()
    net_recv_bytes = models.BigIntegerField()
    process_rss_bytes = models.BigIntegerField(help_text="resident memory of the collecting process")

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["host", "-at"], name="hostsample_host_recent")]

    def __str__(self) -> str:
        return f"{self.host} @ {self.at:%Y-%m-%d %H:%M:%S}"
