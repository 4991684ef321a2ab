"""cdn in the rest of the product: the optimize action's "cdn" pass."""
from __future__ import annotations

from typing import Any


def register() -> None:
    from perfmon.ops.optimize import register_pass

    register_pass("cdn", "optimize_assets", _optimize_pass)


def _optimize_pass(*, actor: Any, reason: str) -> dict:
    """Optimize every asset never optimized (or whose last try failed), then ingest any
    new CDN logs; each through its service, so each is audited there."""
    from . import services
    from .conf import cdn_settings
    from .errors import CdnError
    from .models import Asset

    done, failed = 0, {}
    for asset_id in Asset.objects.filter(optimized_at__isnull=True).values_list("id", flat=True)[:500]:
        try:
            services.optimize_asset(asset_id=asset_id, actor=actor, reason=reason)
            done += 1
        except CdnError as exc:
            failed[str(asset_id)] = exc.message
    summary: dict[str, Any] = {"optimized": done, "failed": failed}
    if cdn_settings.LOG_FOLDER:
        summary["logs_ingested"] = services.ingest_cdn_logs(folder=cdn_settings.LOG_FOLDER, actor=actor,
                                                            reason=reason).ingested
    return summary
