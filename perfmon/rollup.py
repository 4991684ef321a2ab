"""Buffer -> per-minute rows -> hourly rows.

`rollup_minutes()` drains closed minutes from the buffer into TrafficMinute and
QueryMinute, adding to what is there (late data for a minute adds to its row);
the buffer's drain protocol makes every part apply exactly once, also when two
workers run it at the same time. `rollup_hours()` recomputes recent hours from
the minute rows (and the days they touch from the hour rows) and overwrites them,
so running it twice changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.db import IntegrityError, transaction
from django.db.models import Max, Min, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from .buffer import get_buffer
from .buffer.base import AlreadyApplied
from .conf import perfmon_settings
from .models import (QueryHour, QueryMinute, QueryShape, RollupClaim, RollupState, TrafficDay, TrafficHour,
                     TrafficMinute)
from .recorder import Batch
from .schema import ALL_ROUTES, MAX_FIELDS, QUERY_FIELDS, SQL, TRAFFIC_FIELDS
from .upsert import upsert

TRAFFIC_KEY = ("kind", "bucket", "route", "method", "status")
QUERY_KEY = ("bucket", "route", "fingerprint")
HOURS_WATERMARK = "hours"
DAYS_WATERMARK = "days"


@dataclass(frozen=True)
class RollupResult:
    parts_applied: int
    hours_recomputed: int = 0


def _at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=dt_timezone.utc)


def _typed(field: str, value: float):
    return value if "_ms" in field else int(round(value))


def rows_for(batch: Batch) -> tuple[list[dict], list[dict]]:
    traffic, queries = [], []
    for (kind, minute, route, method, status), values in sorted(batch.rows.items(), key=lambda kv: kv[0][:4]):
        if kind == SQL:
            row = {"bucket": _at(minute), "route": route, "fingerprint": method}
            row.update({f: _typed(f, values[i]) for i, f in enumerate(QUERY_FIELDS)})
            queries.append(row)
        else:
            row = {"kind": kind, "bucket": _at(minute), "route": route, "method": method, "status": status}
            row.update({f: _typed(f, values[i]) for i, f in enumerate(TRAFFIC_FIELDS)})
            traffic.append(row)
    return traffic, queries


def apply_batch(batch: Batch, token: str | None) -> None:
    """Add a drained part to the minute tables in one transaction, recording its token.
    Raises AlreadyApplied when the token was recorded before (the part is a repeat)."""
    traffic, queries = rows_for(batch)
    try:
        with transaction.atomic():
            if token:
                RollupClaim.objects.create(token=token)
            upsert(TrafficMinute, traffic, key=TRAFFIC_KEY, values=TRAFFIC_FIELDS)
            upsert(QueryMinute, queries, key=QUERY_KEY, values=QUERY_FIELDS)
            if batch.examples:
                QueryShape.objects.bulk_create([QueryShape(fingerprint=fp, sql=sql) for fp, sql in
                                                sorted(batch.examples.items())], ignore_conflicts=True)
    except IntegrityError:
        if token and RollupClaim.objects.filter(token=token).exists():
            raise AlreadyApplied(token) from None
        raise


def rollup_minutes(*, now: datetime | None = None) -> RollupResult:
    """Move every closed minute (ended more than ROLLUP_GRACE_SECONDS ago) from the buffer
    into the minute tables. Safe to run twice, late, or concurrently."""
    now = now or timezone.now()
    cutoff = int(now.timestamp()) - int(perfmon_settings.ROLLUP_GRACE_SECONDS)
    # Minute m is closed once m + 60 <= cutoff, i.e. m < the minute the cutoff falls in.
    parts = get_buffer().drain(apply_batch, before_minute=cutoff // 60 * 60)
    if parts:
        from .api_cache import invalidate

        invalidate("perfmon.metrics")
    return RollupResult(parts_applied=parts)


def _floor_hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def watermarks() -> dict[str, datetime]:
    """{"hours": end of the last hour rolled up, "days": end of the last day}: rows of that
    tier are complete before it."""
    return dict(RollupState.objects.filter(name__in=(HOURS_WATERMARK, DAYS_WATERMARK)).values_list("name", "value"))


def hours_watermark() -> datetime | None:
    return watermarks().get(HOURS_WATERMARK)


def _advance(name: str, value: datetime) -> None:
    state, created = RollupState.objects.select_for_update().get_or_create(name=name, defaults={"value": value})
    if not created and state.value < value:
        state.value = value
        state.save(update_fields=["value"])


def rollup_hours(*, now: datetime | None = None) -> RollupResult:
    """Recompute the hours in [watermark - lookback, last complete hour) from minute rows
    and overwrite them. Idempotent: the same minutes give the same hours."""
    now = now or timezone.now()
    end = _floor_hour(now - timedelta(seconds=int(perfmon_settings.ROLLUP_GRACE_SECONDS) + 60))
    mark = hours_watermark()
    if mark is None:
        first = TrafficMinute.objects.aggregate(first=Min("bucket"))["first"]
        if first is None:
            return RollupResult(parts_applied=0)
        start = _floor_hour(first)
    else:
        start = min(mark, end) - timedelta(hours=int(perfmon_settings.HOURLY_LOOKBACK_HOURS))
    if start >= end:
        return RollupResult(parts_applied=0)
    hours = 0
    with transaction.atomic():
        hours += _recompute(TrafficMinute, TrafficHour, TRAFFIC_KEY, TRAFFIC_FIELDS, start, end, TruncHour,
                            all_routes=True)
        _recompute(QueryMinute, QueryHour, QUERY_KEY, QUERY_FIELDS, start, end, TruncHour)
        _advance(HOURS_WATERMARK, end)
        # Days that the recomputed hours touch, up to the last complete day.
        day_start = start.replace(hour=0)
        day_end = end.replace(hour=0)
        if day_start < day_end:
            _recompute(TrafficHour, TrafficDay, TRAFFIC_KEY, TRAFFIC_FIELDS, day_start, day_end, TruncDay)
            _advance(DAYS_WATERMARK, day_end)
    from .api_cache import invalidate

    invalidate("perfmon.metrics")
    return RollupResult(parts_applied=0, hours_recomputed=hours)


def _recompute(source, target, key, fields, start: datetime, end: datetime, trunc=TruncHour,
               all_routes: bool = False) -> int:
    group = [k for k in key if k != "bucket"]
    aggregates = {f: (Max(f) if f in MAX_FIELDS else Sum(f)) for f in fields}
    rows = list(source.objects.filter(bucket__gte=start, bucket__lt=end)
                .annotate(hour=trunc("bucket", tzinfo=dt_timezone.utc))
                .values("hour", *group).annotate(**{f"agg_{f}": a for f, a in aggregates.items()})
                .order_by("hour", *group))
    out = []
    for row in rows:
        item = {k: row[k] for k in group}
        item["bucket"] = row["hour"]
        item.update({f: row[f"agg_{f}"] or 0 for f in fields})
        out.append(item)
    if all_routes:
        out.extend(_all_routes(out, fields))
    upsert(target, out, key=key, values=fields, replace=True)
    return len({row["hour"] for row in rows})


def _all_routes(rows: list[dict], fields) -> list[dict]:
    """Rows summed over routes and methods (route = method = ALL_ROUTES), per kind, bucket
    and status: what the all-routes charts and tiles read, ~1/50th of the rows."""
    merged: dict[tuple, dict] = {}
    for row in rows:
        key = (row["kind"], row["bucket"], row["status"])
        acc = merged.get(key)
        if acc is None:
            merged[key] = {**row, "route": ALL_ROUTES, "method": ALL_ROUTES}
            continue
        for f in fields:
            acc[f] = max(acc[f], row[f]) if f in MAX_FIELDS else acc[f] + row[f]
    return [merged[key] for key in sorted(merged)]
