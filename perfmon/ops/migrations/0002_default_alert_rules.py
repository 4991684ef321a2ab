"""The original design's targets as alert rules. Created once by name; an operator's
later edits (or deletions) are never overwritten by this migration."""
from django.db import migrations

RULES = [
    dict(name="API response time over target", metric="http.latency_ms", aggregation="avg", window_seconds=300,
         comparison=">", threshold_setting="API_RESPONSE_TARGET", for_seconds=300, severity="warning",
         summary="Average response time of a route is over the API response target"),
    dict(name="High CPU", metric="host.cpu_percent", aggregation="avg", window_seconds=300, comparison=">",
         threshold_setting="HIGH_CPU_THRESHOLD", for_seconds=300, severity="warning",
         summary="CPU has stayed over HIGH_CPU_THRESHOLD"),
    dict(name="High memory", metric="host.memory_percent", aggregation="avg", window_seconds=300, comparison=">",
         threshold_setting="HIGH_MEMORY_THRESHOLD", for_seconds=300, severity="warning",
         summary="Memory use has stayed over HIGH_MEMORY_THRESHOLD"),
    dict(name="Low cache hit rate", metric="cache.hit_rate", aggregation="avg", window_seconds=900, comparison="<",
         threshold_setting="CACHE_HIT_RATE_TARGET", for_seconds=600, severity="warning",
         summary="Cache hit rate is under its target"),
    dict(name="Connection pool nearly full", metric="db.connections_percent", aggregation="avg",
         window_seconds=300, comparison=">", threshold_setting="POOL_USAGE_THRESHOLD", for_seconds=120,
         severity="warning", summary="Database connections are over POOL_USAGE_THRESHOLD of max_connections"),
    dict(name="Slow queries", metric="db.slow_queries", aggregation="count", window_seconds=300, comparison=">",
         threshold=0, for_seconds=0, severity="warning",
         summary="Queries slower than SLOW_QUERY_THRESHOLD were seen"),
    dict(name="High CDN miss rate", metric="cdn.miss_rate", aggregation="avg", window_seconds=86400,
         comparison=">", threshold_setting="CDN_MISS_RATE_THRESHOLD", for_seconds=0, severity="warning",
         summary="The CDN misses more often than CDN_MISS_RATE_THRESHOLD"),
    dict(name="Scaling event", metric="scaling.events", aggregation="last", window_seconds=120, comparison=">=",
         threshold=0, for_seconds=0, severity="info", summary="A scaling group changed size"),
]


def create(apps, schema_editor):
    AlertRule = apps.get_model("ops", "AlertRule")
    for rule in RULES:
        AlertRule.objects.get_or_create(name=rule["name"], defaults={k: v for k, v in rule.items() if k != "name"})


def remove(apps, schema_editor):
    AlertRule = apps.get_model("ops", "AlertRule")
    AlertRule.objects.filter(name__in=[r["name"] for r in RULES], alerts__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("ops", "0001_initial")]
    operations = [migrations.RunPython(create, remove)]
