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
}
