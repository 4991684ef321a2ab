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
