"""Monitored databases, their statistics snapshots, query samples and findings."""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from django.db import models


def redact_url(url: str) -> str:
    """The URL with any password replaced by ***, safe to show and log."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparseable URL)"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit((parts.scheme, f"{user}:***@{netloc}", parts.path, parts.query, parts.fragment))


class MonitoredDatabase(models.Model):
    """A PostgreSQL database dbopt watches: a settings alias (the project's own by
    default) or a URL an admin added. The URL holds credentials: it is never shown;
    `display_target` is what admin, API and logs print."""

    class Status(models.TextChoices):
        UNKNOWN = "unknown"
        UP = "up"
        DOWN = "down"
        UNSUPPORTED = "unsupported", "not PostgreSQL"

    name = models.SlugField(max_length=63, unique=True)
    alias = models.CharField(max_length=63, blank=True, help_text="a key of settings.DATABASES")
    url = models.TextField(blank=True, help_text="postgresql://user:password@host:port/dbname (never displayed)")
    enabled = models.BooleanField(default=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.UNKNOWN)
    status_detail = models.TextField(blank=True)
    server_version = models.CharField(max_length=32, blank=True)
    features = models.JSONField(default=dict, blank=True,
                                help_text="pg_stat_statements / hypopg availability, stats reset time")
    last_collected_at = models.DateTimeField(null=True, blank=True)
    last_advised_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.CheckConstraint(
            condition=(models.Q(alias="") & ~models.Q(url="")) | (~models.Q(alias="") & models.Q(url="")),
            name="dbopt_database_alias_xor_url")]

    def __str__(self) -> str:
        return self.name

    @property
    def display_target(self) -> str:
        return f"settings alias {self.alias!r}" if self.alias else redact_url(self.url)


class Snapshot(models.Model):
    """What one collector read from one database at one time; the rows as JSON, so
    deltas between two snapshots and history are possible."""

    class Kind(models.TextChoices):
        STATEMENTS = "statements"
        TABLES = "tables"
        INDEXES = "indexes"
        CACHE = "cache"
        CONNECTIONS = "connections"
        ACTIVITY = "activity", "long-running queries"
        LOCKS = "locks"
        SIZE = "size"
        BLOAT = "bloat"
        POOL = "pool"

    database = models.ForeignKey(MonitoredDatabase, on_delete=models.CASCADE, related_name="snapshots")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    taken_at = models.DateTimeField(db_index=True)
    data = models.JSONField(default=dict)

    class Meta:
        ordering = ["-taken_at"]
        indexes = [models.Index(fields=["database", "kind", "-taken_at"], name="dbopt_snapshot_latest")]

    def __str__(self) -> str:
        return f"{self.database} {self.kind} {self.taken_at:%Y-%m-%d %H:%M}"


class QuerySample(models.Model):
    """A real statement, with its values, seen running in the workload. Grouped with
    pg_stat_statements' normalized text by pglast fingerprint (which ignores values),
    so the advisor can cost plans with real values rather than the generic $1 plan."""

    database = models.ForeignKey(MonitoredDatabase, on_delete=models.CASCADE, related_name="samples")
    fingerprint = models.CharField(max_length=16, db_index=True)
    sql = models.TextField()
    # Unique on a digest: a btree cannot hold long statement texts.
    sql_hash = models.CharField(max_length=32)
    duration_ms = models.FloatField(default=0)
    source = models.CharField(max_length=20, default="activity")
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["-seen_at"]
        constraints = [models.UniqueConstraint(fields=["database", "sql_hash"], name="dbopt_sample_unique")]


class Finding(models.Model):
    """Something worth attention, with its evidence and, where it can be fixed, the
    action (a dbopt service name) and its parameters."""

    class Kind(models.TextChoices):
        SLOW_QUERY = "slow_query"
        MISSING_INDEX = "missing_index"
        UNUSED_INDEX = "unused_index"
        DUPLICATE_INDEX = "duplicate_index"
        INVALID_INDEX = "invalid_index"
        NEEDS_VACUUM = "needs_vacuum"
        NEEDS_ANALYZE = "needs_analyze"
        BLOATED_TABLE = "bloated_table"
        BLOATED_INDEX = "bloated_index"
        POOL_SIZE = "pool_size"
        LOCK_WAIT = "lock_wait"
        LONG_QUERY = "long_query"

    class Status(models.TextChoices):
        OPEN = "open"
        RESOLVED = "resolved"

    database = models.ForeignKey(MonitoredDatabase, on_delete=models.CASCADE, related_name="findings")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    subject = models.CharField(max_length=255, help_text="what it is about: a table, an index, a query id")
    title = models.CharField(max_length=255)
    detail = models.TextField(blank=True)
    evidence = models.JSONField(default=dict, blank=True)
    impact = models.FloatField(default=0, help_text="for ranking: estimated ms saved, bytes wasted, ...")
    action = models.CharField(max_length=40, blank=True)
    action_params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-impact", "kind", "subject"]
        constraints = [models.UniqueConstraint(fields=["database", "kind", "subject"],
                                               condition=models.Q(status="open"), name="dbopt_finding_open_unique")]

    def __str__(self) -> str:
        return self.title
