"""Thin views: validate shape, call the service, report. No endpoint takes SQL."""
from dataclasses import asdict

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from perfmon.api.permissions import ReadAuthenticatedWriteStaff

from .. import selectors, services
from ..errors import NotPostgres
from ..models import Finding
from .serializers import ACTIONS, ActionSerializer, ExplainSerializer, ReasonSerializer


class StaffOnly(ReadAuthenticatedWriteStaff):
    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


def _supported(name: str):
    db = services.get_database(name)
    message = selectors.support_message(db)
    if message:
        raise NotPostgres(message)
    return db


class DatabaseOverviewView(APIView):
    """Status per monitored database, top queries, open findings and recent maintenance."""

    @extend_schema(responses=None, parameters=[
        OpenApiParameter("kind", str, many=True, description="only findings of these kinds"),
        OpenApiParameter("limit", int, description="findings per database (default 50, at most 500)")])
    def get(self, request):
        kinds = [k for k in request.query_params.getlist("kind") if k]
        unknown = sorted(set(kinds) - set(Finding.Kind.values))
        if unknown:
            raise ValidationError({"kind": [f"unknown kind {', '.join(unknown)}; one of {', '.join(Finding.Kind.values)}"]})
        limit = request.query_params.get("limit", "50")
        if not limit.isdigit() or not 1 <= int(limit) <= 500:
            raise ValidationError({"limit": ["a number from 1 to 500"]})
        return Response(selectors.overview(kinds=kinds or None, limit=int(limit)))


class ApplyFindingView(APIView):
    """Apply the action a finding carries (staff)."""

    @extend_schema(request=ReasonSerializer, responses=None)
    def post(self, request, finding_id: int):
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = services.act_on_finding(finding_id=finding_id, actor=request.user, reason=body.validated_data["reason"])
        return Response(asdict(result))


class DatabaseActionView(APIView):
    """drop_index, vacuum_table, analyze_table or reindex_index on a named object (staff)."""

    @extend_schema(request=ActionSerializer, responses=None)
    def post(self, request, name: str, action: str):
        if action not in ACTIONS:
            return Response({"error": {"status": 404, "code": "not_found",
                                       "message": f"no action {action!r}; one of {', '.join(ACTIONS)}"}}, status=404)
        body = ActionSerializer(data=request.data, context={"action": action})
        body.is_valid(raise_exception=True)
        db = _supported(name)
        data = body.validated_data
        target = {"index": data["index"]} if action in ("drop_index", "reindex_index") else {"table": data["table"]}
        result = getattr(services, action)(database=db.name, schema=data["schema"], actor=request.user,
                                           reason=data["reason"], **target)
        return Response(asdict(result))


class CollectView(APIView):
    """Collect now and refresh the findings (staff)."""

    @extend_schema(request=None, responses=None)
    def post(self, request, name: str):
        db = _supported(name)
        collected = services.collect_database(database=db)
        refreshed = services.refresh_findings(database=db) if collected.status == "up" else None
        return Response({"collect": asdict(collected), "findings": asdict(refreshed) if refreshed else None})


class ExplainView(APIView):
    """Plan analysis of a query from the top queries; EXPLAIN ANALYZE only on demand (staff)."""

    permission_classes = [StaffOnly]

    @extend_schema(request=ExplainSerializer, responses=None)
    def post(self, request, name: str):
        body = ExplainSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        db = _supported(name)
        report = services.explain_query(database=db.name, actor=request.user, **body.validated_data)
        return Response(asdict(report))
