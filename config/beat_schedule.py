"""The one beat schedule. Synced into django-celery-beat's tables by name, so
operators see and edit the periodic tasks in the admin.

Each entry: task name, `every` (seconds) or `crontab` (dict of crontab fields),
and `expires` (seconds; a run that waited longer than about one interval is
dropped rather than piling up behind a stalled worker).
"""


def _scaling_tick_seconds() -> int:
    from django.conf import settings

    return int(getattr(settings, "SCALING", {}).get("TICK_SECONDS", 15))


SCHEDULE: dict[str, dict] = {
    "perfmon: evaluate alerts": {
        "task": "perfmon.ops.tasks.evaluate_alerts_task",
        "every": 15,
        "expires": 15,
        "description": "Evaluate alert rules (pending -> firing -> resolved) and queue notifications.",
    },
    "perfmon: refresh recommendations": {
        "task": "perfmon.ops.tasks.refresh_recommendations_task",
        "every": 300,
        "expires": 300,
        "description": "Run the recommendation rules of every app; open, refresh or close recommendations.",
    },
    "perfmon: collect host metrics": {
        "task": "perfmon.tasks.collect_host_metrics_task",
        "every": 15,
        "expires": 15,
        "description": "psutil sample of this host: CPU, load, memory, swap, disk, network, own RSS.",
    },
    "perfmon: roll up metrics (minutes)": {
        "task": "perfmon.tasks.rollup_minutes_task",
        "every": 60,
        "expires": 60,
        "description": "Move closed minutes from the metrics buffer into per-minute rows (exactly once).",
    },
    "perfmon: roll up metrics (hours)": {
        "task": "perfmon.tasks.rollup_hours_task",
        "crontab": {"minute": "*/10"},
        "expires": 600,
        "description": "Recompute recent hours from the minute rows (idempotent; late minutes land).",
    },
    "perfmon: collect service metrics": {
        "task": "perfmon.tasks.collect_metrics_task",
        "every": 30,
        "expires": 30,
        "description": "Redis INFO, Celery queue depth and workers, database connections.",
    },
    "perfmon: roll up host hours": {
        "task": "perfmon.tasks.rollup_host_hours_task",
        "every": 300,
        "expires": 300,
        "description": "Host samples of the last hours into hourly rows (for day and week views).",
    },
    "perfmon: prune old samples": {
        "task": "perfmon.tasks.prune_metrics_task",
        "crontab": {"minute": "17", "hour": "*"},
        "expires": 3600,
        "description": "Delete samples older than their retention.",
    },
    "scaling: autoscaler tick": {
        "task": "scaling.tasks.autoscale_tick_task",
        "every": _scaling_tick_seconds(),
        "expires": _scaling_tick_seconds(),
        "description": "Health-check each enabled scaling group, decide and scale (one lease per group).",
    },
    "cdn: ingest CDN logs": {
        "task": "cdn.tasks.ingest_cdn_logs_task",
        "every": 900,
        "expires": 900,
        "description": "Ingest new CloudFront log files from CDN_LOG_FOLDER into daily usage aggregates.",
    },
    "cdn: follow invalidations": {
        "task": "cdn.tasks.follow_invalidations_task",
        "every": 60,
        "expires": 60,
        "description": "Mark CDN invalidations submitted without waiting as completed once the CDN says so.",
    },
    "dbopt: collect database statistics": {
        "task": "dbopt.tasks.collect_databases_task",
        "every": 60,
        "expires": 60,
        "description": "Snapshot pg_stat_statements, tables, indexes, cache, connections, long queries, locks, "
                       "size, bloat and pool of each monitored database (one down leaves the others).",
    },
    "dbopt: refresh findings and index advice": {
        "task": "dbopt.tasks.refresh_findings_task",
        "every": 900,
        "expires": 900,
        "description": "Slow queries, missing indexes proven with hypopg, unused/duplicate/invalid indexes, "
                       "vacuum/analyze needs, bloat.",
    },
    "dbopt: automatic maintenance": {
        "task": "dbopt.tasks.run_maintenance_task",
        "crontab": {"minute": "41", "hour": "*"},
        "expires": 3600,
        "description": "VACUUM/ANALYZE tables past the thresholds (off with DBOPT_AUTO_MAINTENANCE=false).",
    },
    "dbopt: prune snapshots": {
        "task": "dbopt.tasks.prune_snapshots_task",
        "crontab": {"minute": "23", "hour": "3"},
        "expires": 3600,
        "description": "Delete statistics snapshots and query samples past DBOPT SNAPSHOT_RETENTION_DAYS.",
    },
}
