"""cdn's metrics in perfmon's metric registry: the CDN miss rate per region (from the
ingested logs' daily aggregates), so alert rules can watch it."""
from __future__ import annotations

from perfmon.registry import Metric, Query, Series, register


def _miss_rate(query: Query) -> list[Series]:
    from .selectors import miss_rate_by_region

    rates = miss_rate_by_region(query.start.date(), query.end.date())
    if "region" in query.labels:
        rates = {k: v for k, v in rates.items() if k == query.labels["region"]}
    return [Series({"region": region}, rate) for region, rate in sorted(rates.items())]


def _hit_ratio(query: Query) -> list[Series]:
    from .selectors import hit_ratio_by_region

    ratios = hit_ratio_by_region(query.start.date(), query.end.date())
    if "region" in query.labels:
        ratios = {k: v for k, v in ratios.items() if k == query.labels["region"]}
    return [Series({"region": region}, ratio) for region, ratio in sorted(ratios.items())]


def register_cdn_metrics() -> None:
    register(Metric("cdn.miss_rate", "share of CDN requests that missed the edge cache (daily log aggregates)",
                    "ratio", ("region",), _miss_rate, aggregations=("avg", "last")))
    register(Metric("cdn.hit_ratio", "share of CDN requests served from the edge cache (Hit, RefreshHit)",
                    "ratio", ("region",), _hit_ratio, aggregations=("avg", "last")))
