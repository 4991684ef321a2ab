"""System checks for SCALING, SCALING_BACKENDS and the stored groups' policies."""
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError


@register()
def check_scaling_backends(app_configs, **kwargs):
    from .backends import _loader, get_backend
    from .conf import scaling_settings

    errors = []
    _loader.clear()  # check what the settings say now, not what was built earlier
    for alias in scaling_settings.BACKENDS:
        try:
            get_backend(alias)
        except ImproperlyConfigured as exc:
            errors.append(Error(str(exc), id="scaling.E001"))
    if float(scaling_settings.LEASE_TTL_SECONDS) < 2 * float(scaling_settings.TICK_SECONDS):
        errors.append(Warning("SCALING LEASE_TTL_SECONDS is below two ticks: a slow tick may lose its lease "
                              "to the next one", id="scaling.W001"))
    return errors


@register(Tags.database)
def check_scaling_groups(app_configs, databases=None, **kwargs):
    from .models import Policy
    from .policies import PolicyConfigError, build_policy

    errors = []
    if not databases:
        return errors
    try:
        rows = list(Policy.objects.select_related("group"))
    except DatabaseError:
        return []  # not migrated yet
    for row in rows:
        try:
            build_policy(row.kind, row.metric, row.params)
        except PolicyConfigError as exc:
            errors.append(Error(f"scaling group {row.group.name}: policy {row.kind} on {row.metric}: {exc}",
                                id="scaling.E002"))
    return errors
