"""Request metrics middleware, for this project or any Django project:

    INSTALLED_APPS += ["perfmon"]
    MIDDLEWARE.insert(0, "perfmon.middleware.RequestMetricsMiddleware")

Per request: route template (never the raw path), method, status, duration,
database queries and their time (through `connection.execute_wrapper`), cache
hits and misses, response bytes. Counted in memory; see `perfmon.recorder`.
Place it first, so its timing covers the other middleware.
"""
from __future__ import annotations

from time import perf_counter

from django.db import connections

from .recorder import METHODS, RequestStats, get_recorder, set_current_stats
from .schema import HTTP, UNMATCHED


class RequestMetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self._aliases = list(connections)

    def __call__(self, request):
        recorder = get_recorder()
        if not recorder.enabled:
            return self.get_response(request)
        stats = RequestStats(recorder.slow_ms)
        set_current_stats(stats)
        start = perf_counter()
        status = 500
        response = None
        # Django's execute_wrapper() hook, installed the way its own context manager does
        # (append to / pop from connection.execute_wrappers) minus the generator it costs
        # per request: the wrapper sees every query of this request, nothing is patched.
        wrapper_lists = [connections[alias].execute_wrappers for alias in self._aliases]
        for wrappers in wrapper_lists:
            wrappers.append(stats)
        try:
            response = self.get_response(request)
            status = response.status_code
            return response
        finally:
            for wrappers in wrapper_lists:
                if wrappers[-1] is stats:
                    wrappers.pop()
                else:  # a view left its own wrapper on: take only ours off
                    wrappers.remove(stats)
            duration_ms = (perf_counter() - start) * 1000.0
            set_current_stats(None)
            self._record(recorder, request, response, status, duration_ms, stats)

    @staticmethod
    def _record(recorder, request, response, status, duration_ms, stats) -> None:
        try:
            match = getattr(request, "resolver_match", None)
            route = recorder.route_label(match.route) if match is not None and match.route is not None \
                else UNMATCHED
            method = request.method if request.method in METHODS else "_OTHER"
            size = 0
            if response is not None:
                if not response.streaming:
                    size = len(response.content)
                elif response.has_header("Content-Length"):
                    size = int(response["Content-Length"])
            if not 100 <= status <= 599:
                status = 0
            recorder.record(HTTP, route, method, status, duration_ms, stats, size)
        except Exception:  # counting must never fail the request
            import logging

            logging.getLogger(__name__).exception("perfmon: could not count a request")
