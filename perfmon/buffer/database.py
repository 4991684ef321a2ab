"""The database buffer (embedded default: no Redis). Each process's flusher thread
inserts one BufferBatch row per minute per flush and adds to the lifetime totals,
in one transaction, off the request path. A drain takes rows with
SELECT ... FOR UPDATE SKIP LOCKED (PostgreSQL; SQLite serializes writers anyway),
applies them and deletes them in the same transaction: exactly once."""
from __future__ import annotations

from django.db import connection, transaction
from django.db.models import F

from ..recorder import Batch
from ..schema import SQL, TRAFFIC_FIELDS, merge_into
from ..upsert import upsert
from .base import Apply, MetricsBuffer

DRAIN_CHUNK = 2000


def encode(part: Batch) -> dict:
    return {"rows": [[k[0], k[2], k[3], k[4], v] for k, v in part.rows.items()],
            "x": part.examples, "d": part.dropped}


def decode(payload: dict, minute: int, into: Batch) -> None:
    part = Batch(rows={(kind, minute, route, method, status): values
                       for kind, route, method, status, values in payload.get("rows", [])},
                 examples=payload.get("x", {}), dropped=0)
    into.merge(part)


class DatabaseBuffer(MetricsBuffer):
    name = "database"

    def write(self, batch: Batch) -> None:
        from ..models import BufferBatch, BufferCounter, TrafficTotal

        parts = batch.split_by_minute()
        totals = _totals_rows(batch)
        try:
            with transaction.atomic():
                BufferBatch.objects.bulk_create([BufferBatch(minute=m, payload=encode(p)) for m, p in parts.items()])
                upsert(TrafficTotal, totals, key=("kind", "route", "method", "status"), values=TRAFFIC_FIELDS)
                if batch.dropped:
                    BufferCounter.objects.get_or_create(name="dropped")
                    BufferCounter.objects.filter(name="dropped").update(value=F("value") + batch.dropped)
        except Exception:
            # This runs in the flusher thread: a broken connection must not stay broken.
            connection.close()
            raise

    def drain(self, apply: Apply, *, before_minute: int) -> int:
        from ..models import BufferBatch

        applied = 0
        while True:
            with transaction.atomic():
                rows = list(BufferBatch.objects.select_for_update(skip_locked=True)
                            .filter(minute__lt=before_minute).order_by("id")[:DRAIN_CHUNK])
                if not rows:
                    return applied
                merged = Batch()
                for row in rows:
                    decode(row.payload, row.minute, merged)
                apply(merged, None)
                BufferBatch.objects.filter(id__in=[r.id for r in rows]).delete()
                applied += len(rows)

    def pending(self, *, since_minute: int) -> Batch:
        from ..models import BufferBatch

        merged = Batch()
        for minute, payload in BufferBatch.objects.filter(minute__gte=since_minute).values_list("minute", "payload"):
            decode(payload, minute, merged)
        return merged

    def totals(self) -> Batch:
        from ..models import TrafficTotal

        batch = Batch(dropped=self.dropped_total())
        for row in TrafficTotal.objects.values("kind", "route", "method", "status", *TRAFFIC_FIELDS):
            batch.rows[(row["kind"], 0, row["route"], row["method"], row["status"])] = \
                [float(row[f]) for f in TRAFFIC_FIELDS]
        return batch

    def dropped_total(self) -> int:
        from ..models import BufferCounter

        return BufferCounter.objects.filter(name="dropped").values_list("value", flat=True).first() or 0

    def ping(self) -> None:
        connection.ensure_connection()

    def clear(self) -> None:
        from ..models import BufferBatch, BufferCounter, TrafficTotal

        BufferBatch.objects.all().delete()
        TrafficTotal.objects.all().delete()
        BufferCounter.objects.all().delete()


def _totals_rows(batch: Batch) -> list[dict]:
    merged: dict[tuple, list[float]] = {}
    for (kind, _minute, route, method, status), values in batch.rows.items():
        if kind == SQL:
            continue
        key = (kind, route, method, status)
        if key in merged:
            merge_into(merged[key], values)
        else:
            merged[key] = list(values)
    rows = []
    for (kind, route, method, status), values in sorted(merged.items()):
        row = {"kind": kind, "route": route, "method": method, "status": status}
        row.update({f: (values[i] if "_ms" in f else int(values[i])) for i, f in enumerate(TRAFFIC_FIELDS)})
        rows.append(row)
    return rows

