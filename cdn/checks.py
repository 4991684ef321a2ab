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
    errors.extend(_check_avif())
    return errors


def _check_avif() -> list[checks.CheckMessage]:
    """Encode a tiny image with the configured AVIF speed and tune: a Pillow built without
    AVIF, or with an encoder that does not know the tune option, is named here rather
    than failing each upload."""
    from PIL import Image

    from .images import encode

    try:
        encode(Image.new("RGB", (16, 16)), "avif", {"avif": 50}, cdn_settings.AVIF_SPEED, cdn_settings.AVIF_TUNE)
    except (OSError, ValueError, KeyError) as exc:
        return [checks.Error(f"CDN cannot encode AVIF with AVIF_SPEED={cdn_settings.AVIF_SPEED} and "
                             f"AVIF_TUNE={cdn_settings.AVIF_TUNE!r}: {exc}", id="cdn.E005",
                             hint="Install a Pillow with AVIF (its wheels have it) or set CDN_AVIF_TUNE.")]
    return []
