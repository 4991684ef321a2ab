"""Reads for the admin, the API and perfmon's metric registry."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from .backends import get_backend
from .conf import cdn_settings
from .models import Asset, Invalidation, UsageDaily, Variant

HIT_RESULTS = ("Hit", "RefreshHit")
LEGACY_FORMATS = ("jpeg", "png")


def assets() -> QuerySet[Asset]:
    return Asset.objects.annotate(variant_count=Count("variants"))


def asset_detail(asset_id: int) -> Asset:
    return Asset.objects.prefetch_related("variants").get(pk=asset_id)


def _since(days: int) -> date:
    return timezone.now().date() - timedelta(days=days - 1)


def usage_summary(days: int = 7) -> dict[str, Any]:
    """Hit ratio, most requested assets, bytes in older formats, miss rate per region."""
    rows = UsageDaily.objects.filter(date__gte=_since(days))
    total = rows.aggregate(total_hits=Sum("hits"), total_bytes=Sum("bytes"),
                           cached=Sum("hits", filter=Q(result_type__in=HIT_RESULTS)),
                           misses=Sum("hits", filter=Q(result_type="Miss")),
                           legacy=Sum("bytes", filter=Q(variant__format__in=LEGACY_FORMATS)))
    requests = total["total_hits"] or 0
    top = list(rows.filter(asset__isnull=False).values("asset_id", "asset__name")
               .annotate(requests=Sum("hits"), served=Sum("bytes")).order_by("-requests", "asset_id")[:10])
    regions = [{"region": r["region"], "requests": r["requests"],
                "miss_rate": round((r["misses"] or 0) / r["requests"], 4) if r["requests"] else None}
               for r in rows.values("region").annotate(requests=Sum("hits"),
                                                       misses=Sum("hits", filter=Q(result_type="Miss")))
               .order_by("region")]
    return {
        "days": days,
        "requests": requests,
        "bytes": total["total_bytes"] or 0,
        "hit_ratio": round((total["cached"] or 0) / requests, 4) if requests else None,
        "miss_rate": round((total["misses"] or 0) / requests, 4) if requests else None,
        "legacy_format_bytes": total["legacy"] or 0,
        "top_assets": [{"asset_id": t["asset_id"], "name": t["asset__name"], "requests": t["requests"],
                        "bytes": t["served"]} for t in top],
        "regions": regions,
    }


def daily_usage(first: date) -> list[dict[str, Any]]:
    """Per day from `first` on, days with traffic only: requests, cache hits (Hit and
    RefreshHit) and bytes served, oldest first."""
    rows = (UsageDaily.objects.filter(date__gte=first).values("date")
            .annotate(requests=Sum("hits"), hits=Sum("hits", filter=Q(result_type__in=HIT_RESULTS)),
                      served=Sum("bytes"))
            .order_by("date"))
    return [{"date": r["date"], "requests": r["requests"], "hits": r["hits"] or 0, "bytes": r["served"] or 0}
            for r in rows if r["requests"]]


def bytes_saved() -> dict[str, int]:
    """Original bytes against the smallest identity variant of each optimized asset's
    largest size (an image's widest variant, a script's minified copy)."""
    original = best = 0
    largest: dict[int, tuple[int, int]] = {}
    for asset_id, width, size in Variant.objects.filter(encoding="identity").exclude(format__in=("poster", "map")) \
            .values_list("asset_id", "width", "bytes"):
        w = width or 0
        cur = largest.get(asset_id)
        if cur is None or w > cur[0] or (w == cur[0] and size < cur[1]):
            largest[asset_id] = (w, size)
    sizes = dict(Asset.objects.filter(pk__in=largest).values_list("id", "size"))
    for asset_id, (_, size) in largest.items():
        original += sizes.get(asset_id, 0)
        best += size
    return {"original_bytes": original, "optimized_bytes": best, "saved_bytes": max(original - best, 0)}


def overview(days: int = 7) -> dict[str, Any]:
    backend = get_backend("default")
    counts = dict(Asset.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    return {
        "enabled": cdn_settings.ENABLED,
        "base_url": cdn_settings.BASE_URL,
        "regions": sorted(cdn_settings.REGIONAL_BASE_URLS),
        "backend": backend.describe(),
        "assets": {"total": sum(counts.values()), **counts},
        "invalidations_in_progress": Invalidation.objects.filter(status=Invalidation.Status.IN_PROGRESS).count(),
        "optimization": bytes_saved(),
        "usage": usage_summary(days),
    }


def miss_rate_by_region(start: date, end: date) -> dict[str, float]:
    out = {}
    for r in UsageDaily.objects.filter(date__gte=start, date__lte=end).values("region") \
            .annotate(requests=Sum("hits"), misses=Sum("hits", filter=Q(result_type="Miss"))):
        if r["requests"]:
            out[r["region"]] = (r["misses"] or 0) / r["requests"]
    return out


def hit_ratio_by_region(start: date, end: date) -> dict[str, float]:
    out = {}
    for r in UsageDaily.objects.filter(date__gte=start, date__lte=end).values("region") \
            .annotate(requests=Sum("hits"), cached=Sum("hits", filter=Q(result_type__in=HIT_RESULTS))):
        if r["requests"]:
            out[r["region"]] = (r["cached"] or 0) / r["requests"]
    return out
