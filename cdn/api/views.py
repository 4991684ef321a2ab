"""Thin views: validate shape, call the service, report."""
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors, services
from ..conf import cdn_settings
from ..errors import InvalidAsset
from ..models import Invalidation
from .serializers import (
    AssetDetailSerializer,
    AssetSerializer,
    CdnInvalidateSerializer,
    CdnInvalidationSerializer,
    CdnOverviewSerializer,
    CdnReasonSerializer,
    CdnUploadSerializer,
)


class CdnOverviewView(APIView):
    """Status, backend, hit ratio, top assets and bytes saved by optimization."""

    @extend_schema(responses=CdnOverviewSerializer)
    def get(self, request):
        return Response(CdnOverviewSerializer(selectors.overview()).data)


class AssetListView(generics.ListAPIView):
    """GET: assets (newest first). POST (staff, multipart `file`): upload one asset."""

    serializer_class = AssetSerializer
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        rows = selectors.assets()
        kind = self.request.query_params.get("kind")
        return rows.filter(kind=kind) if kind else rows

    @extend_schema(request={"multipart/form-data": CdnUploadSerializer}, responses=AssetDetailSerializer)
    def post(self, request):
        body = CdnUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        limit = cdn_settings.MAX_UPLOAD_BYTES
        if upload.size > limit:  # refuse before reading it into memory
            raise InvalidAsset(f"The file is {upload.size:,} bytes; the limit is {limit:,} (CDN MAX_UPLOAD_BYTES).")
        result = services.upload_asset(name=upload.name, data=upload.read(), actor=request.user,
                                       reason=body.validated_data["reason"], optimize=body.validated_data["optimize"])
        asset = selectors.asset_detail(result.asset_id)
        return Response(AssetDetailSerializer(asset, context={"request": request}).data,
                        status=201 if result.created else 200)


class AssetDetailView(APIView):
    @extend_schema(responses=AssetDetailSerializer)
    def get(self, request, asset_id: int):
        services.get_asset(asset_id)  # the readable 404
        return Response(AssetDetailSerializer(selectors.asset_detail(asset_id), context={"request": request}).data)


    @extend_schema(request=CdnReasonSerializer, responses=None)
    def delete(self, request, asset_id: int):
        """Delete the asset and its files, and invalidate its URLs (staff)."""
        body = CdnReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.get_asset(asset_id)  # the readable 404
        result = services.delete_asset(asset_id=asset_id, actor=request.user, reason=body.validated_data["reason"])
        return Response({"asset_id": result.asset_id, "deleted": result.deleted, "files": result.files,
                         "invalidation_id": result.invalidation_id})


class ReoptimizeView(APIView):
    """Queue optimize_asset_task for the asset (staff); 202 with the asset as it is now."""

    @extend_schema(request=CdnReasonSerializer, responses=AssetSerializer)
    def post(self, request, asset_id: int):
        from ..tasks import optimize_asset_task

        body = CdnReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        asset = services.get_asset(asset_id)
        actor = request.user.get_username()
        transaction.on_commit(lambda: optimize_asset_task.delay(asset.pk, actor, body.validated_data["reason"]))
        return Response(AssetSerializer(asset, context={"request": request}).data, status=202)


class AssetInvalidateView(APIView):
    """Invalidate every URL of the asset (original and variants) on the CDN (staff)."""

    @extend_schema(request=CdnInvalidateSerializer, responses=CdnInvalidationSerializer)
    def post(self, request, asset_id: int):
        body = CdnInvalidateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        asset = services.get_asset(asset_id)
        paths = ["/" + asset.original_key, *("/" + k for k in asset.variants.values_list("storage_key", flat=True))]
        data = {k: v for k, v in body.validated_data.items() if k != "paths"}
        result = services.invalidate_cdn(paths=paths, actor=request.user, **data)
        return Response(CdnInvalidationSerializer(Invalidation.objects.get(pk=result.invalidation_id)).data)


class InvalidateView(APIView):
    """Invalidate paths on the CDN (staff). `wait=false` (default) returns once submitted."""

    @extend_schema(request=CdnInvalidateSerializer, responses=CdnInvalidationSerializer)
    def post(self, request):
        body = CdnInvalidateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if not body.validated_data.get("paths"):
            raise InvalidAsset("Give `paths`: a list of paths to invalidate.", code="invalid")
        result = services.invalidate_cdn(actor=request.user, **body.validated_data)
        return Response(CdnInvalidationSerializer(Invalidation.objects.get(pk=result.invalidation_id)).data)


class InvalidationListView(generics.ListAPIView):
    serializer_class = CdnInvalidationSerializer
    queryset = Invalidation.objects.all()
