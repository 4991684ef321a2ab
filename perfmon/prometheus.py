"""Prometheus exposition at /metrics, aggregated across every process and host.

prometheus-client's own metrics live in each process's memory (or, in its
multiprocess mode, in files per worker that pile up). Here a custom collector
reads the shared lifetime totals the buffer keeps (Redis, or the database), so one
scrape of any process returns the whole deployment's counts. The request histogram
follows the OpenTelemetry HTTP server names.
"""
from __future__ import annotations

import hmac
from itertools import accumulate

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from .histogram import BOUNDS_MS
from .schema import (BYTES_SAVED, CACHE_HITS, CACHE_MISSES, DB_QUERIES, DB_TIME, DURATION, HIST0, HTTP,
                     RESPONSE_BYTES, TASK)

_LE = [f"{b / 1000:g}" for b in BOUNDS_MS] + ["+Inf"]
HTTP_LABELS = ["http_request_method", "http_route", "http_response_status_code", "error_type"]


def error_type(status: int) -> str:
    """OpenTelemetry's `error.type` for an HTTP server: the status code for 5xx, `_OTHER`
    for a response without a valid status; empty (no label, to Prometheus) otherwise."""
    if status >= 500:
        return str(status)
    return "_OTHER" if status == 0 else ""


def _buckets(values: list[float]) -> list[tuple[str, float]]:
    return list(zip(_LE, accumulate(values[HIST0:])))


class PipelineCollector:
    """Reads the buffer's totals at scrape time; registered on a private registry."""

    def collect(self):
        from .buffer import get_buffer

        buffer = get_buffer()
        totals = buffer.totals()
        duration = HistogramMetricFamily("http_server_request_duration_seconds", "Duration of HTTP server requests.",
                                         labels=HTTP_LABELS, unit="seconds")
        tasks = HistogramMetricFamily("perfmon_celery_task_duration_seconds", "Run time of Celery tasks.",
                                      labels=["task", "outcome"], unit="seconds")
        counters = {
            "db_queries": CounterMetricFamily("perfmon_http_db_queries", "Database queries made by requests.",
                                              labels=["http_route"]),
            "db_time": CounterMetricFamily("perfmon_http_db_duration_seconds", "Time requests spent in queries.",
                                           labels=["http_route"]),
            "hits": CounterMetricFamily("perfmon_cache_hits", "Cache hits counted in requests.", labels=["http_route"]),
            "misses": CounterMetricFamily("perfmon_cache_misses", "Cache misses counted in requests.",
                                          labels=["http_route"]),
            "bytes": CounterMetricFamily("perfmon_http_response_body_bytes", "Response bytes sent (after compression).",
                                         labels=["http_route"]),
            "saved": CounterMetricFamily("perfmon_compression_saved_bytes", "Response bytes compression saved.",
                                         labels=["http_route"]),
        }
        by_route: dict[str, list[float]] = {}
        for (kind, _m, route, method, status), values in sorted(totals.rows.items()):
            if kind == HTTP:
                duration.add_metric([method, route, str(status), error_type(status)], _buckets(values),
                                    values[DURATION] / 1000.0)
                acc = by_route.setdefault(route, [0.0] * 6)
                for i, index in enumerate((DB_QUERIES, DB_TIME, CACHE_HITS, CACHE_MISSES, RESPONSE_BYTES, BYTES_SAVED)):
                    acc[i] += values[index]
            elif kind == TASK:
                tasks.add_metric([route, "failure" if status == 1 else "success"], _buckets(values),
                                 values[DURATION] / 1000.0)
        for route, acc in sorted(by_route.items()):
            for (name, family), value in zip(counters.items(), acc):
                family.add_metric([route], value / 1000.0 if name == "db_time" else value)
        yield duration
        yield tasks
        yield from counters.values()
        yield CounterMetricFamily("perfmon_metrics_dropped_requests",
                                  "Requests whose metrics were dropped because the buffer was down.",
                                  value=totals.dropped)
        info = GaugeMetricFamily("perfmon_metrics_buffer_info", "The metrics buffer in use.", labels=["buffer"])
        info.add_metric([buffer.name], 1)
        yield info
        yield from _sample_gauges()


def _sample_gauges():
    from .models import HostSample
    from .selectors import latest_samples
    from .traffic_metrics import SAMPLES

    host = HostSample.objects.order_by("-at").first()
    if host is not None:
        for field in ("cpu_percent", "memory_percent", "swap_percent", "disk_percent", "load1"):
            family = GaugeMetricFamily(f"perfmon_host_{field}", f"Latest host sample: {field}.", labels=["host"])
            family.add_metric([host.host], getattr(host, field))
            yield family
    for name, series in latest_samples(SAMPLES).items():
        label_names = sorted(series[0]["labels"])
        family = GaugeMetricFamily("perfmon_" + name.replace(".", "_"), SAMPLES[name][0], labels=label_names)
        for item in series:
            family.add_metric([item["labels"].get(k, "") for k in label_names], item["value"])
        yield family


_registry = CollectorRegistry(auto_describe=False)
_registry.register(PipelineCollector())


def exposition() -> bytes:
    return generate_latest(_registry)


def _authorized(request) -> bool:
    token = getattr(settings, "METRICS_BEARER_TOKEN", "")
    if not token:
        return True
    header = request.headers.get("Authorization", "")
    return header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip().encode(), token.encode())


@never_cache
@require_GET
def metrics_view(request):
    """Prometheus text format. With METRICS_BEARER_TOKEN set, needs `Authorization: Bearer <token>`."""
    if not _authorized(request):
        response = HttpResponse("A bearer token is required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    try:
        body = exposition()
    except Exception as exc:  # buffer down: say so rather than a bare 500
        return HttpResponse(f"metrics unavailable: {type(exc).__name__}: {exc}\n".encode(), status=503,
                            content_type="text/plain")
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
