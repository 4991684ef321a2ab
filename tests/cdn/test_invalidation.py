"""Invalidation: local backend, CloudFront against botocore's Stubber (batches within
3,000 paths / 15 wildcards, CallerReference from the idempotency key, status followed,
resume after a failure), and the HTTP purge backend against a local HTTP server."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from botocore.stub import ANY, Stubber
from django.core.management import call_command
from django.core.management.base import CommandError

from cdn import services
from cdn.backends import get_backend
from cdn.backends.cloudfront import CloudFrontBackend
from cdn.errors import CdnError, InvalidationError
from cdn.invalidation import clean_paths, plan_batches
from cdn.models import Invalidation
from perfmon.models import AuditRecord

from .conftest import photo_jpeg

DIST = "E2EXAMPLE123"


def _backends(**configs) -> dict:
    return {"default": {"BACKEND": "cdn.backends.local.LocalBackend", "OPTIONS": {}}, **configs}


def test_local_invalidation_is_audited_and_idempotent(pg):
    first = services.invalidate_cdn(paths=["/cdn/a.js", "cdn/b.css"], actor="ops", reason="deploy",
                                    idempotency_key="deploy-42")
    row = Invalidation.objects.get()
    assert first.status == row.status == "completed" and first.external_ids == ["local-deploy-42-0"]
    assert row.paths == ["/cdn/a.js", "/cdn/b.css"] and row.completed_at
    again = services.invalidate_cdn(paths=["/cdn/a.js", "/cdn/b.css"], actor="ops", reason="deploy",
                                    idempotency_key="deploy-42")
    assert again.invalidation_id == first.invalidation_id and Invalidation.objects.count() == 1
    assert list(AuditRecord.objects.filter(action="cdn.invalidate_cdn").order_by("id")
                .values_list("result", flat=True)) == ["ok", "noop"]
    with pytest.raises(CdnError, match="already used for other paths"):
        services.invalidate_cdn(paths=["/other"], actor="ops", idempotency_key="deploy-42")


@pytest.mark.parametrize("paths,message", [
    ([], "at least one path"), (["/a/../etc"], "contains '..'"), (["/a b"], "not a valid path"),
    (["/a/*/b"], "wildcard is only allowed at the end"),
])
def test_bad_paths_are_refused_before_anything_is_recorded(pg, paths, message):
    with pytest.raises(CdnError, match=message):
        services.invalidate_cdn(paths=paths, actor="ops")
    assert not Invalidation.objects.exists()


def test_plan_batches_within_cloudfront_limits():
    backend = CloudFrontBackend("cf", {"distribution_id": DIST, "client": object()})
    # 3,500 files in distinct folders: no collapse, two batches of at most 3,000.
    spread = [f"/cdn/{i:04d}/f.js" for i in range(3500)]
    assert [len(b) for b in plan_batches(spread, backend)] == [3000, 500]
    # 20 folders of 12 files: each folder collapses to one wildcard; 15 wildcards per batch.
    dense = [f"/cdn/d{d:02d}/f{i}.js" for d in range(20) for i in range(12)]
    batches = plan_batches(dense, backend)
    assert [len(b) for b in batches] == [15, 5] and all(p.endswith("/*") for b in batches for p in b)
    # A path already covered by a wildcard in the same request is dropped.
    assert clean_paths(["/static/*", "/static/app.js", "/img/a.png"]) == ["/static/*", "/img/a.png"]


def _cloudfront(settings):
    client = boto3.client("cloudfront", region_name="us-east-1", aws_access_key_id="test",
                          aws_secret_access_key="test")
    settings.CDN = {**settings.CDN, "BACKENDS": _backends(
        cf={"BACKEND": "cdn.backends.cloudfront.CloudFrontBackend", "OPTIONS": {"distribution_id": DIST,
                                                                                 "client": client}})}
    return client, Stubber(client)


def _created(inv_id: str, status: str = "InProgress") -> dict:
    return {"Location": f"https://cloudfront.amazonaws.com/2020-05-31/distribution/{DIST}/invalidation/{inv_id}",
            "Invalidation": {"Id": inv_id, "Status": status, "CreateTime": "2026-11-29T03:00:00Z",
                             "InvalidationBatch": {"Paths": {"Quantity": 1, "Items": ["/x"]},
                                                   "CallerReference": "ref"}}}


def _got(inv_id: str, status: str) -> dict:
    return {"Invalidation": _created(inv_id, status)["Invalidation"]}


def _expect_create(stub: Stubber, reference: str, paths: list[str], inv_id: str) -> None:
    stub.add_response("create_invalidation", _created(inv_id), {
        "DistributionId": DIST,
        "InvalidationBatch": {"Paths": {"Quantity": len(paths), "Items": paths}, "CallerReference": reference}})


def test_cloudfront_batches_follow_status_and_are_idempotent(pg, settings):
    client, stub = _cloudfront(settings)
    paths = [f"/cdn/{i:04d}/f.js" for i in range(3500)]
    _expect_create(stub, "release-7-0", paths[:3000], "I1")
    stub.add_response("get_invalidation", _got("I1", "InProgress"), {"DistributionId": DIST, "Id": "I1"})
    stub.add_response("get_invalidation", _got("I1", "Completed"), {"DistributionId": DIST, "Id": "I1"})
    _expect_create(stub, "release-7-1", paths[3000:], "I2")
    stub.add_response("get_invalidation", _got("I2", "Completed"), {"DistributionId": DIST, "Id": "I2"})
    with stub:
        result = services.invalidate_cdn(paths=paths, actor="ops", reason="release 7", idempotency_key="release-7",
                                         backend="cf", poll_interval=0)
        stub.assert_no_pending_responses()
        # The same key again makes no CloudFront call at all (the stubber would raise).
        again = services.invalidate_cdn(paths=paths, actor="ops", idempotency_key="release-7", backend="cf")
    assert result.status == "completed" and result.external_ids == ["I1", "I2"] and result.batches == 2
    assert again.invalidation_id == result.invalidation_id
    audit = AuditRecord.objects.filter(action="cdn.invalidate_cdn").order_by("id")
    assert [a.result for a in audit] == ["ok", "noop"] and audit[0].after["external_ids"] == ["I1", "I2"]


def test_cloudfront_wildcard_collapse_and_resume_after_failure(pg, settings):
    client, stub = _cloudfront(settings)
    paths = [f"/cdn/d{d:02d}/f{i}.webp" for d in range(16) for i in range(10)]
    first = [f"/cdn/d{d:02d}/*" for d in range(15)]
    _expect_create(stub, "purge-1-0", first, "W1")
    stub.add_response("get_invalidation", _got("W1", "Completed"), {"DistributionId": DIST, "Id": "W1"})
    stub.add_client_error("create_invalidation", "TooManyInvalidationsInProgress", "Too many in progress",
                          http_status_code=400, expected_params={"DistributionId": DIST, "InvalidationBatch": ANY})
    with stub, pytest.raises(InvalidationError, match="TooManyInvalidationsInProgress"):
        services.invalidate_cdn(paths=paths, actor="ops", idempotency_key="purge-1", backend="cf", poll_interval=0)
    row = Invalidation.objects.get()
    assert row.status == "failed" and row.external_ids == ["W1"] and "Too many" in row.error
    # Run again with the same key: batch 0 is only checked, batch 1 is sent with its own reference.
    stub.add_response("get_invalidation", _got("W1", "Completed"), {"DistributionId": DIST, "Id": "W1"})
    _expect_create(stub, "purge-1-1", ["/cdn/d15/*"], "W2")
    stub.add_response("get_invalidation", _got("W2", "Completed"), {"DistributionId": DIST, "Id": "W2"})
    with stub:
        result = services.invalidate_cdn(paths=paths, actor="ops", idempotency_key="purge-1", backend="cf",
                                         poll_interval=0)
        stub.assert_no_pending_responses()
    assert result.status == "completed" and result.external_ids == ["W1", "W2"]
    assert list(AuditRecord.objects.filter(action="cdn.invalidate_cdn").values_list("result", flat=True)
                .order_by("id")) == ["failed", "ok"]


class _PurgeHandler(BaseHTTPRequestHandler):
    seen: list = []
    fail = False

    def _answer(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).seen.append((self.command, self.path, self.headers.get("Authorization"), body))
        self.send_response(500 if type(self).fail else 200)
        self.end_headers()

    do_PURGE = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def purge_server():
    _PurgeHandler.seen, _PurgeHandler.fail = [], False
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PurgeHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _PurgeHandler
    server.shutdown()
    server.server_close()


def test_http_purge_backend_against_a_real_server(pg, settings, purge_server):
    url, handler = purge_server
    settings.CDN = {**settings.CDN, "BACKENDS": _backends(
        varnish={"BACKEND": "cdn.backends.http_purge.HttpPurgeBackend", "OPTIONS": {"purge_url": url, "token": "s3cret"}},
        api={"BACKEND": "cdn.backends.http_purge.HttpPurgeBackend", "OPTIONS": {"purge_url": url + "/purge",
                                                                                 "mode": "POST"}})}
    services.invalidate_cdn(paths=["/cdn/a.js", "/cdn/b.css"], actor="ops", backend="varnish")
    assert [(m, p, a) for m, p, a, _ in handler.seen] == [("PURGE", "/cdn/a.js", "Bearer s3cret"),
                                                          ("PURGE", "/cdn/b.css", "Bearer s3cret")]
    handler.seen.clear()
    services.invalidate_cdn(paths=["/cdn/a.js"], actor="ops", backend="api")
    assert handler.seen[0][:2] == ("POST", "/purge") and json.loads(handler.seen[0][3]) == {"paths": ["/cdn/a.js"]}
    handler.fail = True
    with pytest.raises(InvalidationError, match="answered 500"):
        services.invalidate_cdn(paths=["/cdn/c.js"], actor="ops", backend="api")
    assert Invalidation.objects.get(paths=["/cdn/c.js"]).status == "failed"
    assert "s3cret" not in json.dumps(get_backend("varnish").describe())
    with pytest.raises(CdnError, match="does not understand wildcards"):
        services.invalidate_cdn(paths=["/cdn/*"], actor="ops", backend="varnish")


def test_api_command_and_admin_invalidate(pg, staff_client, plain_user, staff_user):
    from django.test import Client

    viewer_client = Client()
    viewer_client.force_login(plain_user)
    response = staff_client.post("/api/performance/cdn/invalidate", {"paths": ["/cdn/x.js"], "reason": "api",
                                                                     "idempotency_key": "api-1"},
                                 content_type="application/json")
    assert response.status_code == 200 and response.json()["status"] == "completed"
    bad = staff_client.post("/api/performance/cdn/invalidate", {"paths": ["/cdn/../x"]}, content_type="application/json")
    assert bad.status_code == 400 and "'..'" in bad.json()["error"]["message"]
    assert viewer_client.post("/api/performance/cdn/invalidate", {"paths": ["/x"]},
                              content_type="application/json").status_code == 403
    assert Invalidation.objects.count() == 1
    up = services.upload_asset(name="p.jpg", data=photo_jpeg(100, 80), actor="t", optimize=False)
    services.optimize_asset(asset_id=up.asset_id, actor="t")
    asset_inv = staff_client.post(f"/api/performance/cdn/assets/{up.asset_id}/invalidate", {"reason": "x"},
                                  content_type="application/json")
    assert asset_inv.status_code == 200 and len(asset_inv.json()["paths"]) == 4  # original + 3 variants
    from io import StringIO

    out = StringIO()
    call_command("invalidate_cdn", *[f"/static/d/{i}.js" for i in range(12)], "/a.js", "--reason", "cli",
                 "--dry-run", stdout=out)
    assert "dry run: batch 0: 2 paths: /static/d/*, /a.js" in out.getvalue()
    call_command("invalidate_cdn", "/static/*", "--reason", "cli", "--key", "cli-1")
    assert Invalidation.objects.get(idempotency_key="cli-1").status == "completed"
    with pytest.raises(CommandError, match="'..'"):
        call_command("invalidate_cdn", "/a/../b", "--reason", "cli")
    staff_user.is_superuser = True
    staff_user.save()
    staff_client.force_login(staff_user)
    before = Invalidation.objects.count()
    # The same asset's paths within the same minute: the default key makes it the same invalidation.
    staff_client.post("/admin/cdn/asset/", {"action": "invalidate_cdn", "_selected_action": [up.asset_id]})
    assert Invalidation.objects.count() == before
    other = services.upload_asset(name="q.jpg", data=photo_jpeg(90, 70), actor="t", optimize=False)
    staff_client.post("/admin/cdn/asset/", {"action": "invalidate_cdn", "_selected_action": [other.asset_id]})
    assert Invalidation.objects.count() == before + 1
    listing = staff_client.get("/api/performance/cdn/invalidations").json()
    assert listing["count"] == before + 1
