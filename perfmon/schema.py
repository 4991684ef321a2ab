"""The layout shared by the recorder, the buffers and the rollup tables.

A row of the pipeline is a key (kind, minute, route, method, status) and a vector
of numbers. Vectors add up field by field, except the `*_max_*` fields, which take
the larger value: that is the whole merge rule, in memory, in Redis and in SQL.

kinds:
  "http"  route = URL route template, method = HTTP method, status = HTTP status
  "task"  route = Celery task name, method = "task", status = 0 succeeded, 1 failed
  "sql"   route = URL route template, method = query fingerprint, status = 0
"""
from __future__ import annotations

from .histogram import BUCKET_FIELDS, N_BUCKETS

HTTP, TASK, SQL = "http", "task", "sql"
KINDS = (HTTP, TASK, SQL)

TRAFFIC_FIELDS: tuple[str, ...] = (
    "count", "duration_sum_ms", "duration_max_ms", "db_queries", "db_time_ms",
    "cache_hits", "cache_misses", "response_bytes", "bytes_saved",
) + BUCKET_FIELDS
QUERY_FIELDS: tuple[str, ...] = ("slow_count", "slow_total_ms", "slow_max_ms", "nplus1_requests",
                                 "nplus1_executions")
FIELDS = {HTTP: TRAFFIC_FIELDS, TASK: TRAFFIC_FIELDS, SQL: QUERY_FIELDS}
MAX_FIELDS = frozenset({"duration_max_ms", "slow_max_ms"})
# Index of the one max field in each vector (the same, 2, for both layouts).
MAX_INDEX = 2

(COUNT, DURATION, DURATION_MAX, DB_QUERIES, DB_TIME, CACHE_HITS, CACHE_MISSES, RESPONSE_BYTES,
 BYTES_SAVED) = range(9)
HIST0 = 9
TRAFFIC_WIDTH = HIST0 + N_BUCKETS
SLOW_COUNT, SLOW_TOTAL, SLOW_MAX, NPLUS1_REQUESTS, NPLUS1_EXECUTIONS = range(5)
QUERY_WIDTH = len(QUERY_FIELDS)

UNMATCHED = "<unmatched>"
OTHER = "<other>"
# Hour and day rows also hold, per kind, bucket and status, the sum over all routes and
# methods under this route and method; the selectors read them for all-routes totals.
ALL_ROUTES = "*"

Key = tuple  # (kind, minute_epoch, route, method, status)


def width(kind: str) -> int:
    return QUERY_WIDTH if kind == SQL else TRAFFIC_WIDTH


def merge_into(target: list[float], values: list[float]) -> None:
    for i, value in enumerate(values):
        if i == MAX_INDEX:
            if value > target[i]:
                target[i] = value
        else:
            target[i] += value
