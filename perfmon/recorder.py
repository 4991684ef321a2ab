"""The per-process side of the metrics pipeline: count in memory, flush in batches.

Requests (and Celery tasks) add to an in-memory aggregate keyed by
(kind, minute, route, method, status); a daemon thread swaps the aggregate out
about once a second and writes it to the buffer (Redis, or the database in the
embedded default). Nothing here touches the database or the network on the
request path. When the buffer is down the batch is dropped, counted, and the
count is reported with the next batch that gets through.
"""
from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from time import perf_counter

from .conf import perfmon_settings
from .fingerprint import fingerprint, normalize
from .histogram import bucket_index
from .schema import (BYTES_SAVED, CACHE_HITS, CACHE_MISSES, COUNT, DB_QUERIES, DB_TIME, DURATION, DURATION_MAX,
                     HIST0, HTTP, NPLUS1_EXECUTIONS, NPLUS1_REQUESTS, OTHER, QUERY_WIDTH, RESPONSE_BYTES, SLOW_COUNT,
                     SLOW_MAX, SLOW_TOTAL, SQL, TASK, TRAFFIC_WIDTH, Key, merge_into)

log = logging.getLogger(__name__)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
_local = threading.local()


@dataclass
class Batch:
    """What one process hands to the buffer: rows keyed by `schema.Key`, the normalized
    SQL of the fingerprints it saw, and how many requests it had to drop earlier."""

    rows: dict[Key, list[float]] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)
    dropped: int = 0

    def merge(self, other: "Batch") -> None:
        for key, values in other.rows.items():
            row = self.rows.get(key)
            if row is None:
                self.rows[key] = list(values)
            else:
                merge_into(row, values)
        self.examples.update(other.examples)
        self.dropped += other.dropped

    @property
    def requests(self) -> int:
        return int(sum(v[COUNT] for k, v in self.rows.items() if k[0] != SQL))

    def minutes(self) -> set[int]:
        return {key[1] for key in self.rows}

    def split_by_minute(self) -> dict[int, "Batch"]:
        parts: dict[int, Batch] = {}
        for key, values in self.rows.items():
            parts.setdefault(key[1], Batch()).rows[key] = values
        first = min(parts) if parts else None
        for minute, part in parts.items():
            part.examples = {fp: sql for fp, sql in self.examples.items()
                             if any(k[0] == SQL and k[3] == fp for k in part.rows)}
            if minute == first:
                part.dropped = self.dropped
        return parts


class RequestStats:
    """One request's database and cache counts. Installed with `execute_wrapper`
    around every query of the request; it is the wrapper itself."""

    __slots__ = ("queries", "db_ms", "cache_hits", "cache_misses", "bytes_saved", "shapes", "slow", "slow_ms")

    def __init__(self, slow_ms: float):
        self.queries = 0
        self.db_ms = 0.0
        self.cache_hits = 0
        self.cache_misses = 0
        self.bytes_saved = 0
        self.shapes: dict[str, int] = {}
        self.slow: list[tuple[str, float]] | None = None
        self.slow_ms = slow_ms

    def __call__(self, execute, sql, params, many, context):
        start = perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = (perf_counter() - start) * 1000.0
            self.queries += 1
            self.db_ms += elapsed
            shapes = self.shapes
            shapes[sql] = shapes.get(sql, 0) + 1
            if elapsed >= self.slow_ms:
                if self.slow is None:
                    self.slow = []
                self.slow.append((sql, elapsed))


# Under ASGI a request's counts live in a context variable: one event-loop thread serves
# many requests at once, and sync_to_async carries the context into the thread where an
# async view's queries run.
_task_stats: ContextVar[RequestStats | None] = ContextVar("perfmon_request_stats", default=None)


def set_task_stats(stats: RequestStats) -> Token:
    return _task_stats.set(stats)


def reset_task_stats(token: Token) -> None:
    _task_stats.reset(token)


def _count_async_query(execute, sql, params, many, context):
    stats = _task_stats.get()
    if stats is None:
        return execute(sql, params, many, context)
    return stats(execute, sql, params, many, context)


def _add_query_wrapper(sender, connection, **kwargs) -> None:
    if _count_async_query not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count_async_query)


def install_async_query_counting() -> None:
    """Count the queries of async requests: each database connection opened from now on
    carries a wrapper that counts against the request whose context runs the query.
    (Sync requests put their own wrapper on and off instead: no cost to them.)"""
    from django.db.backends.signals import connection_created

    connection_created.connect(_add_query_wrapper, dispatch_uid="perfmon.async_queries")


def current_stats() -> RequestStats | None:
    """The counts of the request being served: a sync request's (thread) or an async one's (context)."""
    stats = getattr(_local, "stats", None)
    return stats if stats is not None else _task_stats.get()


def set_current_stats(stats: RequestStats | None) -> None:
    _local.stats = stats


@contextmanager
def not_counted() -> Iterator[None]:
    """Reads perfmon makes for itself during a request (its live settings) are not the request's."""
    stats = getattr(_local, "stats", None)
    _local.stats = None
    token = _task_stats.set(None)
    try:
        yield
    finally:
        _local.stats = stats
        _task_stats.reset(token)


def note_cache(hit: bool) -> None:
    """Count a cache hit or miss against the current request (no-op outside one)."""
    stats = current_stats()
    if stats is not None:
        if hit:
            stats.cache_hits += 1
        else:
            stats.cache_misses += 1


def note_cache_many(hits: int, misses: int) -> None:
    """Count several cache reads (a get_many) against the current request."""
    stats = current_stats()
    if stats is not None:
        stats.cache_hits += hits
        stats.cache_misses += misses


def note_bytes_saved(saved: int) -> None:
    stats = current_stats()
    if stats is not None:
        stats.bytes_saved += saved


class Recorder:
    def __init__(self, buffer_factory=None, clock=time.time):
        self._lock = threading.Lock()
        self._rows: dict[Key, list[float]] = {}
        self._examples: dict[str, str] = {}
        self._labels: dict[str, str] = {}
        self._routes: dict[str, str] = {}
        self._distinct = 0
        self._shapes: dict[str, tuple[str, str]] = {}
        self._buffer_factory = buffer_factory
        self._clock = clock
        self._thread_started = False
        self._stop = threading.Event()
        self.dropped_requests = 0      # this process, since it started
        self.dropped_batches = 0
        self.flushed_batches = 0
        self.last_error = ""
        self._unreported_drops = 0
        self._last_drop_log = 0.0
        self.configure()

    def configure(self) -> None:
        """(Re)read the settings the hot path uses; called at start and on each flush."""
        self.enabled = bool(perfmon_settings.METRICS_ENABLED)
        self.slow_ms = float(perfmon_settings.SLOW_QUERY_THRESHOLD_MS)
        self.max_labels = int(perfmon_settings.MAX_ROUTES)
        self.max_fingerprints = int(perfmon_settings.MAX_FINGERPRINTS)
        self.nplus1 = int(perfmon_settings.N_PLUS_ONE_THRESHOLD)
        self.interval = float(perfmon_settings.FLUSH_INTERVAL_SECONDS)
        self.use_thread = bool(perfmon_settings.FLUSH_THREAD) and not _under_test_runner()

    # ----- hot path -------------------------------------------------------------------
    def label(self, value: str) -> str:
        """A bounded label: the first MAX_ROUTES distinct values pass, the rest fold into <other>."""
        label = self._labels.get(value)
        if label is None:
            if self._distinct < self.max_labels:
                label = value[:200]
                self._distinct += 1
            else:
                label = OTHER
            if len(self._labels) < self.max_labels * 4:
                self._labels[value] = label
        return label

    def route_label(self, route: str) -> str:
        """The label of a URL route template ("api/x/<int:pk>" -> "/api/x/<int:pk>"), bounded."""
        label = self._routes.get(route)
        if label is None:
            label = self.label("/" + route)
            if len(self._routes) < self.max_labels * 4:
                self._routes[route] = label
        return label

    def record(self, kind: str, route: str, method: str, status: int, duration_ms: float,
               stats: RequestStats | None = None, response_bytes: int = 0) -> None:
        if not self._thread_started and self.use_thread:
            self._start_thread()
        minute = int(self._clock()) // 60 * 60
        key = (kind, minute, route, method, status)
        with self._lock:
            row = self._rows.get(key)
            if row is None:
                row = self._rows[key] = [0.0] * TRAFFIC_WIDTH
            row[COUNT] += 1
            row[DURATION] += duration_ms
            if duration_ms > row[DURATION_MAX]:
                row[DURATION_MAX] = duration_ms
            row[HIST0 + bucket_index(duration_ms)] += 1
            row[RESPONSE_BYTES] += response_bytes
            if stats is not None:
                row[DB_QUERIES] += stats.queries
                row[DB_TIME] += stats.db_ms
                row[CACHE_HITS] += stats.cache_hits
                row[CACHE_MISSES] += stats.cache_misses
                row[BYTES_SAVED] += stats.bytes_saved
        if stats is not None and (stats.slow or (stats.queries >= self.nplus1 and stats.shapes)):
            self._record_queries(minute, route, stats)

    def _record_queries(self, minute: int, route: str, stats: RequestStats) -> None:
        """Slow queries and N+1 suspicions of one request, by fingerprint (off the common
        path). Statements whose text differs only in literals or IN-list length share a
        fingerprint, so their executions add up towards the N+1 threshold."""
        found: dict[str, list[float]] = {}
        for sql, elapsed in stats.slow or ():
            values = found.setdefault(self._claim(*self._shape(sql)), [0.0] * QUERY_WIDTH)
            values[SLOW_COUNT] += 1
            values[SLOW_TOTAL] += elapsed
            values[SLOW_MAX] = max(values[SLOW_MAX], elapsed)
        if stats.queries >= self.nplus1:
            executions: dict[str, list] = {}
            for sql, times in stats.shapes.items():
                fp, normalized = self._shape(sql)
                entry = executions.setdefault(fp, [0, normalized])
                entry[0] += times
            for fp, (times, normalized) in executions.items():
                if times >= self.nplus1:
                    values = found.setdefault(self._claim(fp, normalized), [0.0] * QUERY_WIDTH)
                    values[NPLUS1_REQUESTS] += 1
                    values[NPLUS1_EXECUTIONS] += times
        with self._lock:
            for fp, values in found.items():
                key = (SQL, minute, route, fp, 0)
                row = self._rows.get(key)
                if row is None:
                    self._rows[key] = values
                else:
                    merge_into(row, values)

    def _shape(self, sql: str) -> tuple[str, str]:
        """(fingerprint, normalized text) of a statement, cached per text (bounded)."""
        shape = self._shapes.get(sql)
        if shape is None:
            normalized = normalize(sql)
            shape = (fingerprint(normalized), normalized)
            if len(self._shapes) < self.max_fingerprints * 4:
                self._shapes[sql] = shape
        return shape

    def _claim(self, fp: str, normalized: str) -> str:
        """The fingerprint as a label: the first MAX_FINGERPRINTS distinct ones keep an
        example; later ones fold into <other>."""
        if fp not in self._examples:
            if len(self._examples) >= self.max_fingerprints:
                return OTHER
            self._examples[fp] = normalized
        return fp

    # ----- flushing -------------------------------------------------------------------
    def take(self) -> Batch:
        """Swap the aggregate out (the only moment the request threads wait on a flush)."""
        with self._lock:
            rows, self._rows = self._rows, {}
        examples = {fp: self._examples[fp] for key in rows if key[0] == SQL
                    for fp in (key[3],) if fp in self._examples}
        return Batch(rows=rows, examples=examples)

    def flush(self) -> bool:
        """Write what was counted since the last flush to the buffer. Never raises: on
        failure the batch is dropped and counted. Returns whether it got through."""
        batch = self.take()
        if not batch.rows and not self._unreported_drops:
            return True
        batch.dropped = self._unreported_drops
        try:
            self._buffer().write(batch)
        except Exception as exc:  # the buffer is down or refused: drop, count, go on serving
            lost = batch.requests
            self.dropped_requests += lost
            self.dropped_batches += 1
            self._unreported_drops = batch.dropped + lost
            self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            self._log_drop(lost)
            return False
        self._unreported_drops = 0
        self.flushed_batches += 1
        return True

    def _buffer(self):
        if self._buffer_factory is not None:
            return self._buffer_factory()
        from .buffer import get_buffer

        return get_buffer()

    def _log_drop(self, lost: int) -> None:
        now = time.monotonic()
        if now - self._last_drop_log > 30:
            self._last_drop_log = now
            log.warning("perfmon: metrics buffer unavailable, dropped %d requests' metrics (%d so far in pid %d): %s",
                        lost, self.dropped_requests, os.getpid(), self.last_error)

    def _start_thread(self) -> None:
        with self._lock:
            if self._thread_started:
                return
            self._thread_started = True
        thread = threading.Thread(target=self._run, name="perfmon-flush", daemon=True)
        thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.configure()
                self.flush()
            except Exception:  # never let the flusher die
                log.exception("perfmon: flush failed")
        self.flush()

    def after_fork(self) -> None:
        """In a forked child: fresh lock, nothing counted yet, no flusher yet."""
        self._lock = threading.Lock()
        self._rows = {}
        self._thread_started = False
        self._stop = threading.Event()

    def snapshot(self) -> dict:
        return {"pid": os.getpid(), "dropped_requests": self.dropped_requests,
                "dropped_batches": self.dropped_batches, "flushed_batches": self.flushed_batches,
                "last_error": self.last_error}


def _under_test_runner() -> bool:
    """Django's test runner is active: its database comes and goes under us, so tests
    flush explicitly (recorder.flush()) instead of from a thread."""
    utils = sys.modules.get("django.test.utils")  # never imported outside tests: don't import it here
    return utils is not None and hasattr(utils._TestState, "saved_data")


_recorder: Recorder | None = None


def get_recorder() -> Recorder:
    global _recorder
    if _recorder is None:
        _recorder = Recorder()
    return _recorder


def reset_recorder() -> None:
    """Drop the process recorder (tests, settings changes): the next call builds a new one."""
    global _recorder
    if _recorder is not None:
        _recorder._stop.set()
    _recorder = None


def _after_fork_in_child() -> None:
    if _recorder is not None:
        _recorder.after_fork()


def _flush_at_exit() -> None:
    if _recorder is not None and _recorder.use_thread:
        try:
            _recorder.flush()
        except Exception:
            pass


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_flush_at_exit)


def record_task(name: str, duration_ms: float, failed: bool) -> None:
    """Count one finished Celery task (called from the worker's task signals)."""
    recorder = get_recorder()
    if recorder.enabled:
        recorder.record(TASK, recorder.label(name or "<unnamed>"), "task", 1 if failed else 0, duration_ms)


__all__ = ["Batch", "Recorder", "RequestStats", "get_recorder", "reset_recorder", "note_cache", "note_cache_many",
           "note_bytes_saved", "record_task", "current_stats", "set_current_stats", "set_task_stats",
           "reset_task_stats", "install_async_query_counting", "METHODS", "HTTP"]
