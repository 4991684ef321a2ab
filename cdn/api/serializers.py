from rest_framework import serializers

from ..models import Asset, Invalidation, Variant
from ..serving import url_for


class CdnVariantSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Variant
        fields = ["id", "format", "width", "height", "encoding", "bytes", "ssim", "storage_key", "url"]

    def get_url(self, obj: Variant) -> str:
        return url_for(obj.storage_key, self.context.get("request"))


class AssetSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    # Plain strings in the schema: "kind" and "status" enums of other apps would collide by name.
    kind = serializers.CharField(read_only=True, help_text="image, video, script, style, font or other")
    status = serializers.CharField(read_only=True, help_text="pending, ready or failed")
    variant_count = serializers.IntegerField(read_only=True, required=False)

    class Meta:
        model = Asset
        fields = ["id", "name", "kind", "mime_type", "size", "content_hash", "width", "height", "has_alpha",
                  "status", "note", "created_at", "optimized_at", "optimize_count", "url", "variant_count"]

    def get_url(self, obj: Asset) -> str:
        return url_for(obj.original_key, self.context.get("request"))


class AssetDetailSerializer(AssetSerializer):
    variants = CdnVariantSerializer(many=True, read_only=True)

    class Meta(AssetSerializer.Meta):
        fields = AssetSerializer.Meta.fields + ["metadata", "variants"]


class CdnUploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=False, use_url=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="")
    optimize = serializers.BooleanField(required=False, default=True)


class CdnReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class CdnInvalidateSerializer(serializers.Serializer):
    paths = serializers.ListField(child=serializers.CharField(max_length=4000), min_length=1, max_length=100_000,
                                  required=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="")
    idempotency_key = serializers.CharField(required=False, max_length=128)
    backend = serializers.CharField(required=False, default="default")
    wait = serializers.BooleanField(required=False, default=False)


class CdnInvalidationSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True, help_text="pending, in_progress, completed or failed")

    class Meta:
        model = Invalidation
        fields = ["id", "backend", "paths", "submitted_paths", "idempotency_key", "status", "external_ids", "error",
                  "requested_by", "reason", "created_at", "completed_at"]


class CdnOverviewSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    base_url = serializers.CharField(allow_blank=True)
    regions = serializers.ListField(child=serializers.CharField())
    backend = serializers.DictField()
    assets = serializers.DictField(child=serializers.IntegerField())
    invalidations_in_progress = serializers.IntegerField()
    optimization = serializers.DictField(child=serializers.IntegerField())
    usage = serializers.DictField()
