"""cdn in the rest of the product: the optimize action's "cdn" pass, and recommendations
for assets whose optimization failed or never ran (with the action that re-runs it)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

# An asset still pending this long after upload was not picked up by a worker.
STUCK_AFTER = timedelta(minutes=15)


def register() -> None:
    from perfmon.ops.optimize import register_pass
    from perfmon.ops.recommendations import register_action, register_rule

    register_pass("cdn", "optimize_assets", _optimize_pass)
    register_rule("cdn.unoptimized_asset", _unoptimized_rule)
    register_action("cdn.optimize_asset", _optimize_action)


def _unoptimized_rule(now: datetime) -> list:
    from django.db.models import Q
    from perfmon.ops.recommendations import Finding

    from .models import Asset

    rows = Asset.objects.filter(Q(status=Asset.Status.FAILED) |
                                Q(status=Asset.Status.PENDING, created_at__lt=now - STUCK_AFTER))
    return [Finding(kind="cdn.unoptimized_asset", subject=f"asset:{a.pk}",
                    title=f"{a.name} is served unoptimized ({a.size:,} bytes)",
                    detail=(a.note if a.status == Asset.Status.FAILED else
                            "Pending since upload: is a Celery worker running?"),
                    evidence={"asset_id": a.pk, "status": a.status, "size": a.size, "kind": a.kind},
                    impact=float(a.size), action="cdn.optimize_asset", action_params={"asset_id": a.pk})
            for a in rows.order_by("-size")[:100]]


def _optimize_action(params: dict[str, Any], actor: Any, reason: str) -> dict:
    from .services import optimize_asset

    result = optimize_asset(asset_id=int(params["asset_id"]), actor=actor, reason=reason)
    return {"variants": result.variants, "bytes_original": result.bytes_original, "bytes_best": result.bytes_best}


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
