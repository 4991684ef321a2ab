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


class HostHour(models.Model):
    """Host samples summed per host and hour, for ranges longer than a few hours (a week
    of 15-second samples is 40,000 rows per host; of hours, 168). Sums, not averages,
    so an hour recomputed from its samples replaces the row exactly."""

    host = models.CharField(max_length=255)
    hour = models.DateTimeField()
    samples = models.PositiveIntegerField()
    cpu_sum = models.FloatField()
    cpu_max = models.FloatField()
    memory_sum = models.FloatField()
    memory_max = models.FloatField()
    disk_max = models.FloatField()
    load1_max = models.FloatField()

    class Meta:
        ordering = ["-hour"]
        constraints = [models.UniqueConstraint(fields=["host", "hour"], name="hosthour_key")]
        indexes = [models.Index(fields=["hour"], name="hosthour_hour")]

    def __str__(self) -> str:
        return f"{self.host} {self.hour:%Y-%m-%d %H}:00 ({self.samples} samples)"


# ----- the request metrics pipeline --------------------------------------------------------
def _histogram_fields() -> dict[str, models.Field]:
    from .histogram import BOUNDS_MS, BUCKET_FIELDS

    labels = [f"<= {b:g} ms" for b in BOUNDS_MS] + [f"> {BOUNDS_MS[-1]:g} ms"]
    return {name: models.BigIntegerField(default=0, help_text=label) for name, label in zip(BUCKET_FIELDS, labels)}


class TrafficRow(models.Model):
    """Requests (kind "http") or Celery tasks (kind "task") of one route/method/status in
    one time bucket: sums, the largest duration, and a latency histogram (h00..h29,
    the fixed buckets of `perfmon.histogram`), so rows merge by adding."""

    kind = models.CharField(max_length=8)
    bucket = models.DateTimeField(help_text="start of the minute (or hour)")
    route = models.CharField(max_length=255, help_text="URL route template or task name, never a raw path")
    method = models.CharField(max_length=16)
    status = models.PositiveSmallIntegerField()
    count = models.BigIntegerField(default=0)
    duration_sum_ms = models.FloatField(default=0)
    duration_max_ms = models.FloatField(default=0)
    db_queries = models.BigIntegerField(default=0)
    db_time_ms = models.FloatField(default=0)
    cache_hits = models.BigIntegerField(default=0)
    cache_misses = models.BigIntegerField(default=0)
    response_bytes = models.BigIntegerField(default=0)
    bytes_saved = models.BigIntegerField(default=0, help_text="bytes compression kept off the wire")
    locals().update(_histogram_fields())

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.bucket:%Y-%m-%d %H:%M} {self.method} {self.route} {self.status}: {self.count}"


class TrafficMinute(TrafficRow):
    class Meta:
        ordering = ["-bucket"]
        constraints = [models.UniqueConstraint(fields=["kind", "bucket", "route", "method", "status"],
                                               name="trafficminute_key")]
        indexes = [models.Index(fields=["kind", "route", "bucket"], name="trafficminute_route")]


class TrafficHour(TrafficRow):
    class Meta:
        ordering = ["-bucket"]
        constraints = [models.UniqueConstraint(fields=["kind", "bucket", "route", "method", "status"],
                                               name="traffichour_key")]
        indexes = [models.Index(fields=["kind", "route", "bucket"], name="traffichour_route")]


class TrafficDay(TrafficRow):
    """Whole UTC days, recomputed from hour rows: long ranges (30 days, reports) read ~1 row per route per day."""

    class Meta:
        ordering = ["-bucket"]
        constraints = [models.UniqueConstraint(fields=["kind", "bucket", "route", "method", "status"],
                                               name="trafficday_key")]
        indexes = [models.Index(fields=["kind", "route", "bucket"], name="trafficday_route")]


class QueryRow(models.Model):
    """Slow queries and N+1 suspicions seen by the application, by normalized fingerprint."""

    bucket = models.DateTimeField()
    route = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=16)
    slow_count = models.BigIntegerField(default=0)
    slow_total_ms = models.FloatField(default=0)
    slow_max_ms = models.FloatField(default=0)
    nplus1_requests = models.BigIntegerField(default=0, help_text="requests that ran this shape many times")
    nplus1_executions = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class QueryMinute(QueryRow):
    class Meta:
        constraints = [models.UniqueConstraint(fields=["bucket", "route", "fingerprint"], name="queryminute_key")]


class QueryHour(QueryRow):
    class Meta:
        constraints = [models.UniqueConstraint(fields=["bucket", "route", "fingerprint"], name="queryhour_key")]


class QueryShape(models.Model):
    """One normalized example per fingerprint: literals removed, no parameter values."""

    fingerprint = models.CharField(max_length=16, primary_key=True)
    sql = models.TextField()
    first_seen = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.sql[:80]


class TrafficTotal(models.Model):
    """Lifetime sums per route/method/status for Prometheus, in the database buffer mode."""

    kind = models.CharField(max_length=8)
    route = models.CharField(max_length=255)
    method = models.CharField(max_length=16)
    status = models.PositiveSmallIntegerField()
    count = models.BigIntegerField(default=0)
    duration_sum_ms = models.FloatField(default=0)
    duration_max_ms = models.FloatField(default=0)
    db_queries = models.BigIntegerField(default=0)
    db_time_ms = models.FloatField(default=0)
    cache_hits = models.BigIntegerField(default=0)
    cache_misses = models.BigIntegerField(default=0)
    response_bytes = models.BigIntegerField(default=0)
    bytes_saved = models.BigIntegerField(default=0)
    locals().update(_histogram_fields())

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "route", "method", "status"], name="traffictotal_key")]


class BufferBatch(models.Model):
    """The database buffer (embedded default): one row per process flush per minute.
    Written by the flusher thread, never on the request path; drained by the rollup."""

    minute = models.BigIntegerField(db_index=True, help_text="epoch seconds of the minute")
    created_at = models.DateTimeField(auto_now_add=True)
    payload = models.JSONField()


class BufferCounter(models.Model):
    """Shared counters of the database buffer (e.g. requests dropped while it was down)."""

    name = models.CharField(max_length=40, primary_key=True)
    value = models.BigIntegerField(default=0)


class RollupClaim(models.Model):
    """Tokens of buffer parts already applied: the rollup's exactly-once record."""

    token = models.CharField(max_length=64, primary_key=True)
    applied_at = models.DateTimeField(auto_now_add=True, db_index=True)


class RollupState(models.Model):
    """Watermarks, e.g. the end of the last hour rolled up from minutes."""

    name = models.CharField(max_length=40, primary_key=True)
    value = models.DateTimeField()


class Sample(models.Model):
    """A gauge reading from a collector (Redis INFO, Celery, database connections)."""

    name = models.CharField(max_length=80)
    labels = models.CharField(max_length=255, blank=True, help_text="k=v pairs, sorted, comma separated")
    at = models.DateTimeField()
    value = models.FloatField()

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["name", "at"], name="sample_name_at")]

    def __str__(self) -> str:
        return f"{self.name}{{{self.labels}}} = {self.value:g} @ {self.at:%H:%M:%S}"
