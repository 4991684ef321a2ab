"""System checks for DBOPT. (A non-PostgreSQL database is not an issue here: on the
embedded default dbopt says so in its admin, API and commands instead, rather than in
the output of every manage.py command.)"""
from django.core.checks import Error, register
from django.db import connections


@register()
def check_dbopt(app_configs, **kwargs):
    from .conf import DEFAULTS, dbopt_settings
    from django.conf import settings

    messages = []
    for key in getattr(settings, "DBOPT", {}):
        if key not in DEFAULTS:
            messages.append(Error(f"DBOPT has no setting {key!r}", id="dbopt.E001"))
    for alias in dbopt_settings.DATABASES:
        if alias not in connections.settings:
            messages.append(Error(f"DBOPT DATABASES names {alias!r}, which is not in settings.DATABASES",
                                  id="dbopt.E002"))
    for key in ("MIN_COST_REDUCTION", "MAX_SELECTIVITY"):
        if not 0 < float(getattr(dbopt_settings, key)) < 1:
            messages.append(Error(f"DBOPT {key} must be between 0 and 1", id="dbopt.E003"))
    return messages
