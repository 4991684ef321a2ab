"""dbopt's settings: the DBOPT dict with defaults (the DRF api_settings pattern)."""
from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Settings aliases monitored without anyone adding them (the project's own database).
    "DATABASES": ["default"],
    # Mean execution time above which a statement is a slow query; None: PERFMON's
    # SLOW_QUERY_THRESHOLD_MS, so one threshold rules both apps.
    "SLOW_QUERY_THRESHOLD_MS": None,
    # pghero's rule: a slow query also needs this many calls to matter.
    "SLOW_QUERY_MIN_CALLS": 100,
    # Top statements by total time kept per snapshot and considered "heavy" by the advisor.
    "TOP_QUERIES": 50,
    "ADVISE_TOP_QUERIES": 20,
    "ADVISE_MIN_CALLS": 2,
    # A candidate index must cut the query's planned cost by at least this share.
    "MIN_COST_REDUCTION": 0.5,
    # ...and may not raise any other heavy query's planned cost by more than this share.
    "MAX_REGRESSION": 0.05,
    # An equality filter matching more than this share of the rows is too unselective to index.
    "MAX_SELECTIVITY": 0.2,
    # Up to this many real statements (with their values) are costed per query shape.
    "SAMPLES_PER_QUERY": 3,
    "SAMPLE_MIN_MS": 100.0,
    "SAMPLES_KEPT": 10,
    # Queries running longer than this are reported as long-running (and sampled).
    "LONG_QUERY_SECONDS": 5.0,
    # Unused index: no scans since the statistics reset and at least this big (pghero: 10 MB).
    "UNUSED_INDEX_MIN_BYTES": 10 * 1024 * 1024,
    # An index dbopt built is not called unused before it has had this long to be used.
    "UNUSED_GRACE_DAYS": 7,
    # Vacuum when dead tuples pass this share of the table and this count.
    "VACUUM_DEAD_SHARE": 0.2,
    "VACUUM_MIN_DEAD_TUPLES": 1000,
    # Analyze when rows changed since the last analyze pass this share of the table and this count.
    "ANALYZE_CHANGED_SHARE": 0.2,
    "ANALYZE_MIN_CHANGED": 1000,
    # Bloat worth reporting: estimated wasted share and bytes.
    "BLOAT_MIN_SHARE": 0.3,
    "BLOAT_MIN_BYTES": 10 * 1024 * 1024,
    # Plan flags.
    "LARGE_TABLE_ROWS": 100_000,
    "ROW_ESTIMATE_FACTOR": 10.0,
    "NESTED_LOOP_ROWS": 10_000,
    # Automatic VACUUM/ANALYZE on beat of the tables past the thresholds above.
    "AUTO_MAINTENANCE": True,
    # DDL guards: how long CREATE/DROP/REINDEX may wait for a lock, and EXPLAIN ANALYZE's limit.
    "LOCK_TIMEOUT_MS": 5_000,
    # Dropping the invalid leftover of a failed concurrent build waits for the same
    # transactions the build waited for: give it longer.
    "CLEANUP_LOCK_TIMEOUT_MS": 60_000,
    "STATEMENT_TIMEOUT_MS": 30_000,
    "EXPLAIN_ANALYZE_TIMEOUT_MS": 10_000,
    "CONNECT_TIMEOUT_SECONDS": 5,
    # Create pg_stat_statements / hypopg in a monitored database where they are available
    # but not yet created (CREATE EXTENSION IF NOT EXISTS); off for databases you may not change.
    "CREATE_EXTENSIONS": True,
    "SNAPSHOT_RETENTION_DAYS": 14,
    "COLLECT_SECONDS": 60,
    "ADVISE_SECONDS": 900,
    "MAINTAIN_SECONDS": 3600,
}


class DboptSettings:
    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"DBOPT has no setting {name!r}")
        value = getattr(settings, "DBOPT", {}).get(name, DEFAULTS[name])
        if name == "SLOW_QUERY_THRESHOLD_MS" and value is None:
            from perfmon.conf import perfmon_settings  # live: an admin may change it at run time

            value = perfmon_settings.SLOW_QUERY_THRESHOLD_MS
        return value


dbopt_settings = DboptSettings()
