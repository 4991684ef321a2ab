"""cdn inside the product: perfmon's optimize action runs the cdn pass, CDN_ENABLED and
CDN_BASE_URL are live settings, system checks catch a bad backend, follow-up of
invalidations submitted without waiting."""
from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from cdn import serving, services
from cdn.models import Asset, Invalidation
from perfmon.ops import services as ops

from .conftest import alpha_png, photo_jpeg


def test_optimize_action_runs_the_cdn_pass(pg):
    up = services.upload_asset(name="a.png", data=alpha_png(100, 80), actor="t", optimize=False)
    run = ops.optimize(kind="cdn", actor="ops", reason="nightly", run_now=True)
    assert run.status == "done" and run.result["cdn.optimize_assets"] == {"optimized": 1, "failed": {}}
    assert Asset.objects.get(pk=up.asset_id).status == "ready"


def test_cdn_enabled_and_base_url_are_live_settings(pg, settings):
    up = services.upload_asset(name="p.jpg", data=photo_jpeg(60, 40), actor="t", optimize=False)
    key = Asset.objects.get(pk=up.asset_id).original_key
    assert serving.url_for(key).startswith("/api/performance/cdn/files/")
    ops.update_settings(changes={"CDN_ENABLED": True, "CDN_BASE_URL": "https://cdn.example.net"}, actor="ops",
                        reason="go live")
    assert serving.url_for(key) == f"https://cdn.example.net/{key}"
    ops.update_settings(changes={"CDN_ENABLED": False}, actor="ops", reason="back")
    assert serving.url_for(key).startswith("/api/performance/cdn/files/")


def test_system_check_names_a_bad_backend(settings):
    settings.CDN = {**settings.CDN, "BACKENDS": {"default": {"BACKEND": "cdn.backends.nope.Missing"}}}
    with pytest.raises(SystemCheckError, match=r"CDN\['BACKENDS'\]\['default'\]\['BACKEND'\]: cannot import"):
        call_command("check")
    settings.CDN = {**settings.CDN, "BACKENDS": {"default": {
        "BACKEND": "cdn.backends.cloudfront.CloudFrontBackend", "OPTIONS": {}}}}
    with pytest.raises(SystemCheckError, match="needs OPTIONS\\['distribution_id'\\]"):
        call_command("check")


def test_follow_invalidations_completes_what_was_submitted_without_waiting(pg, settings):
    import boto3
    from botocore.stub import Stubber

    client = boto3.client("cloudfront", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
    settings.CDN = {**settings.CDN, "BACKENDS": {
        "default": {"BACKEND": "cdn.backends.local.LocalBackend", "OPTIONS": {}},
        "cf": {"BACKEND": "cdn.backends.cloudfront.CloudFrontBackend",
               "OPTIONS": {"distribution_id": "EDIST", "client": client}}}}
    inv = {"Id": "I9", "Status": "InProgress", "CreateTime": "2026-11-29T03:00:00Z",
           "InvalidationBatch": {"Paths": {"Quantity": 1, "Items": ["/a"]}, "CallerReference": "k-0"}}
    with Stubber(client) as stub:
        stub.add_response("create_invalidation", {"Location": "https://x/I9", "Invalidation": inv})
        result = services.invalidate_cdn(paths=["/a"], actor="api", idempotency_key="k", backend="cf", wait=False)
        assert result.status == "in_progress"
        stub.add_response("get_invalidation", {"Invalidation": inv}, {"DistributionId": "EDIST", "Id": "I9"})
        assert services.follow_invalidations(actor="beat") == {"followed": 1, "completed": 0}
        stub.add_response("get_invalidation", {"Invalidation": {**inv, "Status": "Completed"}},
                          {"DistributionId": "EDIST", "Id": "I9"})
        assert services.follow_invalidations(actor="beat") == {"followed": 1, "completed": 1}
        stub.assert_no_pending_responses()
    assert Invalidation.objects.get().status == "completed"
    assert services.follow_invalidations(actor="beat") == {"followed": 0, "completed": 0}


def test_without_waiting_the_next_batch_goes_only_when_the_previous_completed(pg, settings):
    import boto3
    from botocore.stub import ANY, Stubber

    client = boto3.client("cloudfront", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
    settings.CDN = {**settings.CDN, "BACKENDS": {
        "default": {"BACKEND": "cdn.backends.cloudfront.CloudFrontBackend",
                    "OPTIONS": {"distribution_id": "EDIST", "client": client}}}}

    def inv(inv_id: str, status: str) -> dict:
        return {"Id": inv_id, "Status": status, "CreateTime": "2026-11-29T03:00:00Z",
                "InvalidationBatch": {"Paths": {"Quantity": 1, "Items": ["/a"]}, "CallerReference": "r"}}

    paths = [f"/cdn/{i:04d}/f.js" for i in range(3001)]
    batch = lambda ref, items: {"DistributionId": "EDIST", "InvalidationBatch": {  # noqa: E731
        "Paths": {"Quantity": len(items), "Items": items}, "CallerReference": ref}}
    with Stubber(client) as stub:
        stub.add_response("create_invalidation", {"Location": "l", "Invalidation": inv("A", "InProgress")},
                          batch("big-0", paths[:3000]))
        services.invalidate_cdn(paths=paths, actor="api", idempotency_key="big", wait=False)
        stub.assert_no_pending_responses()  # batch 1 was not sent while batch 0 is in progress
        stub.add_response("get_invalidation", {"Invalidation": inv("A", "Completed")}, {"DistributionId": "EDIST",
                                                                                         "Id": "A"})
        stub.add_response("create_invalidation", {"Location": "l", "Invalidation": inv("B", "InProgress")},
                          batch("big-1", paths[3000:]))
        assert services.follow_invalidations(actor="beat") == {"followed": 1, "completed": 0}
        stub.add_response("get_invalidation", {"Invalidation": inv("A", "Completed")}, {"DistributionId": "EDIST",
                                                                                         "Id": "A"})
        stub.add_response("get_invalidation", {"Invalidation": inv("B", "Completed")}, {"DistributionId": "EDIST",
                                                                                         "Id": ANY})
        assert services.follow_invalidations(actor="beat") == {"followed": 1, "completed": 1}
        stub.assert_no_pending_responses()
    row = Invalidation.objects.get()
    assert row.status == "completed" and row.external_ids == ["A", "B"]


def test_failed_or_stuck_assets_become_recommendations_that_apply(pg, media_root):
    from datetime import timedelta

    from django.utils import timezone

    from perfmon.ops.models import Recommendation
    from perfmon.ops.recommendations import refresh_recommendations

    fresh = services.upload_asset(name="fresh.jpg", data=photo_jpeg(80, 60), actor="t", optimize=False)
    stuck = services.upload_asset(name="stuck.jpg", data=photo_jpeg(90, 60), actor="t", optimize=False)
    Asset.objects.filter(pk=stuck.asset_id).update(created_at=timezone.now() - timedelta(hours=1))
    refresh_recommendations()
    rec = Recommendation.objects.get(kind="cdn.unoptimized_asset")
    assert rec.subject == f"asset:{stuck.asset_id}" and rec.action == "cdn.optimize_asset"
    assert "Celery worker" in rec.detail and fresh.asset_id != stuck.asset_id
    applied = ops.apply_recommendation(recommendation_id=rec.pk, actor="ops")
    assert applied.status == "applied" and applied.result["variants"] >= 2
    assert Asset.objects.get(pk=stuck.asset_id).status == "ready"
    refresh_recommendations()
    assert not Recommendation.objects.filter(kind="cdn.unoptimized_asset", status="open").exists()
