"""Request metrics middleware, for this project or any Django project:

    INSTALLED_APPS += ["perfmon"]
    MIDDLEWARE.insert(0, "perfmon.middleware.RequestMetricsMiddleware")

Per request: route template (never the raw path), method, status, duration,
database queries and their time (through `connection.execute_wrapper`), cache
hits and misses, response bytes. Counted in memory; see `perfmon.recorder`.
Place it first, so its timing covers the other middleware.

Sync and async: under ASGI it runs on the event loop (a sync-only middleware would
make Django run every request through one thread), keeps the request's counts in a
context variable, and counts the queries that async views make through
`sync_to_async` with a wrapper put on each new database connection.
"""
from __future__ import annotations

from time import perf_counter

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.db import connections

from .recorder import (METHODS, RequestStats, get_recorder, install_async_query_counting, reset_task_stats,
                       set_current_stats, set_task_stats)
from .schema import HTTP, UNMATCHED


class RequestMetricsMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self._aliases = list(connections)
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)
            install_async_query_counting()

    def __call__(self, request):
        if self._async:
            return self._acall(request)
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

    async def _acall(self, request):
        recorder = get_recorder()
        if not recorder.enabled:
            return await self.get_response(request)
        stats = RequestStats(recorder.slow_ms)
        token = set_task_stats(stats)
        start = perf_counter()
        status = 500
        response = None
        try:
            response = await self.get_response(request)
            status = response.status_code
            return response
        finally:
            duration_ms = (perf_counter() - start) * 1000.0
            reset_task_stats(token)
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
