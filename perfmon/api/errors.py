"""One error format for every 4xx and 5xx the API returns:

    {"error": {"status": 400, "code": "invalid", "message": "...", "fields": {...}}}
"""
from __future__ import annotations

import logging
from typing import Any

from django import db
from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from perfmon.errors import ActionError

logger = logging.getLogger(__name__)


def error_body(status_code: int, code: str, message: str, fields: dict | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"status": status_code, "code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


# How long a client should wait before retrying when the database connection was lost.
DATABASE_RETRY_AFTER_SECONDS = 5


def exception_handler(exc, context):
    if isinstance(exc, (db.OperationalError, db.InterfaceError)):
        # The connection was lost (server restarted, backend terminated, network): a
        # transient 503 the client may retry, not a 500. Django drops the broken
        # connection at the end of this request and the next one reconnects.
        logger.warning("database unavailable during %s: %s", context.get("request") and context["request"].path, exc)
        message = "The database is unavailable; retry in a few seconds."
        return Response(error_body(503, "database_unavailable", message), status=status.HTTP_503_SERVICE_UNAVAILABLE,
                        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})
    if isinstance(exc, db.DataError):
        # A value the database refuses to store or compare (a NUL byte in text, a number out
        # of range): bad input, reached the query without a serializer to catch it (an
        # `Authorization: Token` header with a NUL byte did, on every endpoint).
        logger.info("database refused a request value: %s", exc)
        return Response(error_body(400, "invalid", "The request contains a value that cannot be stored or "
                                   "looked up (for example a NUL character or a number out of range)."),
                        status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ActionError):
        return Response(error_body(exc.status_code, exc.code, exc.message, exc.fields), status=exc.status_code)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real server error: Django's 500 handling (JSON under /api/, see api_server_error)
    if isinstance(exc, exceptions.ValidationError):
        detail = _flatten(exc.detail)
        fields = detail if isinstance(detail, dict) else {"non_field_errors": detail}
        response.data = error_body(response.status_code, "invalid", _first_message(fields), fields)
    else:
        detail = getattr(exc, "detail", str(exc))
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        response.data = error_body(response.status_code, code if isinstance(code, str) else "error", str(detail))
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        response.data["error"]["retry_after_seconds"] = int(exc.wait) + 1
    return response


def _first_message(fields: dict) -> str:
    for name, messages in fields.items():
        first = messages[0] if isinstance(messages, list) and messages else messages
        if isinstance(first, dict):
            return _first_message(first)
        prefix = "" if name == "non_field_errors" else f"{name}: "
        return f"{prefix}{first}"
    return "Invalid input."


def api_not_found(request, exception=None):
    return JsonResponse(error_body(404, "not_found", f"No API endpoint at {request.path[:200]}"),
                        status=status.HTTP_404_NOT_FOUND)


def api_server_error(request):
    return JsonResponse(error_body(500, "server_error", "The server failed to handle this request."),
                        status=status.HTTP_500_INTERNAL_SERVER_ERROR)
