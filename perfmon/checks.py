"""System checks: surfaced by `manage.py check` and at start-up."""
from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def check_product_settings(app_configs, **kwargs):
    errors = []
    scaling = getattr(settings, "SCALING", {})
    if scaling.get("MIN_INSTANCES", 1) > scaling.get("MAX_INSTANCES", 10):
        errors.append(Error("MIN_INSTANCES is above MAX_INSTANCES", id="perfmon.E001"))
    if not settings.DEBUG and settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") \
            and getattr(settings, "REDIS_URL", ""):
        errors.append(Warning("Redis is configured but the database is SQLite: set DATABASE_URL to "
                              "PostgreSQL to run more than one host", id="perfmon.W001"))
    return errors


@register()
def check_metrics_pipeline(app_configs, **kwargs):
    from .buffer import buffer_location

    errors = []
    location = buffer_location()
    if location != "database" and not location.startswith(("redis://", "rediss://", "unix://")):
        errors.append(Error(f"PERFMON['METRICS_BUFFER'] must be a redis:// URL or 'database', got {location!r}",
                            id="perfmon.E010"))
    middleware = list(getattr(settings, "MIDDLEWARE", []))
    name = "perfmon.middleware.RequestMetricsMiddleware"
    if name in middleware and middleware.index(name) != 0:
        errors.append(Warning(f"{name} is not first in MIDDLEWARE: the time spent in the middleware before it is "
                              "not counted in request durations", id="perfmon.W010"))
    return errors
