"""System checks: the CDN settings and every invalidation backend build."""
from __future__ import annotations

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from .conf import cdn_settings


@checks.register()
def check_cdn(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    from .backends import backend_aliases, get_backend

    errors: list[checks.CheckMessage] = []
    if cdn_settings.ENABLED and not cdn_settings.BASE_URL:
        errors.append(checks.Error("CDN ENABLED is true but BASE_URL is empty.", id="cdn.E001"))
    if "default" not in cdn_settings.BACKENDS:
        errors.append(checks.Error("CDN['BACKENDS'] has no 'default' backend.", id="cdn.E002"))
    for alias in backend_aliases():
        try:
            for problem in get_backend(alias).check():
                errors.append(checks.Error(f"CDN backend {alias!r}: {problem}", id="cdn.E003"))
        except ImproperlyConfigured as exc:
            errors.append(checks.Error(str(exc), id="cdn.E003"))
    quality = cdn_settings.QUALITY
    for fmt in ("jpeg", "webp", "avif"):
        if not isinstance(quality.get(fmt), int) or not 1 <= quality[fmt] <= 100:
            errors.append(checks.Error(f"CDN QUALITY[{fmt!r}] must be an integer 1-100.", id="cdn.E004"))
    return errors
