"""Upload: kind from content, content hash, dedup, and every kind of bad input refused
with a clear error, nothing written to storage and existing assets untouched."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cdn import services
from cdn.errors import InvalidAsset
from cdn.models import Asset
from perfmon.models import AuditRecord

from .conftest import alpha_png, photo_jpeg, png_bomb, rotated_jpeg, stored_files

ADMIN_CSS = Path(__import__("django").__file__).parent / "contrib/admin/static/admin/css/base.css"
ADMIN_JS = Path(__import__("django").__file__).parent / "contrib/admin/static/admin/js/actions.js"


def test_upload_stores_original_under_content_hash(pg, media_root):
    data = photo_jpeg()
    result = services.upload_asset(name="holiday photo.JPG", data=data, actor="tester", optimize=False)
    asset = Asset.objects.get(pk=result.asset_id)
    assert result.created and asset.kind == "image" and asset.mime_type == "image/jpeg"
    assert asset.size == len(data) and (asset.width, asset.height) == (700, 467)
    assert asset.content_hash in asset.original_key and asset.original_key.endswith("holiday-photo.JPG")
    assert (media_root / asset.original_key).read_bytes() == data
    record = AuditRecord.objects.get(action="cdn.upload_asset")
    assert record.result == "ok" and record.after["asset_id"] == asset.pk


def test_same_content_twice_is_deduplicated(pg, media_root):
    data = alpha_png()
    first = services.upload_asset(name="a.png", data=data, actor="t", optimize=False)
    second = services.upload_asset(name="copy-of-a.png", data=data, actor="t", optimize=False)
    assert first.asset_id == second.asset_id and not second.created
    assert Asset.objects.count() == 1 and len(stored_files(media_root)) == 1
    assert list(AuditRecord.objects.filter(action="cdn.upload_asset").order_by("id")
                .values_list("result", flat=True)) == ["ok", "noop"]


@pytest.mark.parametrize("name,data,kind,mime", [
    ("photo.jpeg", photo_jpeg(200, 150), "image", "image/jpeg"),
    ("alpha.png", alpha_png(60, 40), "image", "image/png"),
    ("base.css", ADMIN_CSS.read_bytes(), "style", "text/css"),
    ("actions.js", ADMIN_JS.read_bytes(), "script", "application/javascript"),
    ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>',
     "image", "image/svg+xml"),
    ("commented.svg", b'<!-- made by hand --><svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>', "image",
     "image/svg+xml"),
    ("clip.mp4", b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64, "video", "video/mp4"),
    ("notes.txt", b"\xff\xfe\x00binary-ish \x00\x01", "other", "application/octet-stream"),
    ("hello.txt", b"hello", "other", "application/octet-stream"),
    ("page.html", b"<p>a { color: red }</p>", "other", "application/octet-stream"),
    ("no-extension", b"var answer = 42;", "script", "application/javascript"),
])
def test_kind_is_detected_from_content(pg, name, data, kind, mime):
    result = services.upload_asset(name=name, data=data, actor="t", optimize=False)
    asset = Asset.objects.get(pk=result.asset_id)
    assert (asset.kind, asset.mime_type) == (kind, mime)


def _truncated_jpeg() -> bytes:
    data = photo_jpeg(300, 200)
    return data[: len(data) // 2]


BAD = [
    ("bomb.png", png_bomb(), "decompression bomb"),
    ("photo.jpg", alpha_png(40, 30), "content is image/png but the name ends in .jpg"),
    ("x.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "<script>"),
    ("y.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>', "event handler"),
    ("z.svg", b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:x="http://www.w3.org/1999/xlink">'
              b'<a x:href="javascript:alert(1)"><rect/></a></svg>', "link to script"),
    ("e.svg", b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]><svg>&a;</svg>', "entities or a DTD"),
    ("cut.jpg", _truncated_jpeg(), "truncated or corrupt"),
    ("../../etc/passwd.png", alpha_png(20, 20), "contains a path"),
    ("app.js", b"function ( { not javascript", "name ends in .js"),
    ("empty.css", b"", "empty"),
]


@pytest.mark.parametrize("name,data,message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_and_nothing_changes(pg, media_root, name, data, message):
    keep = services.upload_asset(name="keep.jpg", data=photo_jpeg(120, 80), actor="t", optimize=False)
    before = stored_files(media_root)
    with pytest.raises(InvalidAsset) as info:
        services.upload_asset(name=name, data=data, actor="t", optimize=False)
    assert message in info.value.message
    assert stored_files(media_root) == before
    assert list(Asset.objects.values_list("pk", flat=True)) == [keep.asset_id]
    assert Asset.objects.get(pk=keep.asset_id).status == "pending"
    assert AuditRecord.objects.filter(action="cdn.upload_asset", result="failed").count() == 1


def test_oversized_upload_is_refused(pg, media_root, settings):
    settings.CDN = {**settings.CDN, "MAX_UPLOAD_BYTES": 4096}
    with pytest.raises(InvalidAsset, match="the limit is 4,096"):
        services.upload_asset(name="big.jpg", data=photo_jpeg(300, 200), actor="t", optimize=False)
    assert stored_files(media_root) == [] and not Asset.objects.exists()


def test_exif_rotated_jpeg_is_accepted(pg):
    result = services.upload_asset(name="r.jpg", data=rotated_jpeg(), actor="t", optimize=False)
    assert Asset.objects.get(pk=result.asset_id).kind == "image"


def test_api_multipart_upload(pg, staff_client, media_root):
    data = photo_jpeg(200, 150)
    response = staff_client.post("/api/performance/cdn/assets",
                                 {"file": SimpleUploadedFile("p.jpg", data), "optimize": "false", "reason": "launch"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "image" and body["size"] == len(data) and body["variants"] == []
    assert body["url"].startswith("/api/performance/cdn/files/cdn/")
    again = staff_client.post("/api/performance/cdn/assets",
                              {"file": SimpleUploadedFile("other-name.jpg", data), "optimize": "false"})
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    listing = staff_client.get("/api/performance/cdn/assets").json()
    assert listing["count"] == 1 and listing["results"][0]["id"] == body["id"]


def test_api_upload_bad_input_is_a_clear_400(pg, staff_client, media_root, settings):
    response = staff_client.post("/api/performance/cdn/assets",
                                 {"file": SimpleUploadedFile("fake.png", b"GIF89a" + b"\x00" * 40)})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_asset"
    settings.CDN = {**settings.CDN, "MAX_UPLOAD_BYTES": 2048}
    big = staff_client.post("/api/performance/cdn/assets", {"file": SimpleUploadedFile("a.jpg", photo_jpeg(300, 200))})
    assert big.status_code == 400 and "limit is 2,048" in big.json()["error"]["message"]
    assert stored_files(media_root) == [] and not Asset.objects.exists()


def test_api_upload_needs_staff(pg, viewer_client):
    response = viewer_client.post("/api/performance/cdn/assets",
                                  {"file": SimpleUploadedFile("p.jpg", photo_jpeg(50, 40))})
    assert response.status_code == 403 and not Asset.objects.exists()


def test_admin_upload(pg, staff_user, client, media_root):
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    response = client.post("/admin/cdn/asset/add/", {"file": SimpleUploadedFile("a.png", alpha_png(60, 40)),
                                                     "reason": "from admin"})
    asset = Asset.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/cdn/asset/{asset.pk}/change/")
    bad = client.post("/admin/cdn/asset/add/", {"file": SimpleUploadedFile("a.jpg", alpha_png(30, 20))})
    assert bad.status_code == 200 and b"but the name ends in .jpg" in bad.content
    assert Asset.objects.count() == 1
    client.post("/admin/cdn/asset/", {"action": "delete_selected", "_selected_action": [asset.pk], "post": "yes"})
    assert not Asset.objects.exists() and stored_files(media_root) == []
    assert AuditRecord.objects.filter(action="cdn.delete_asset", result="ok").count() == 1


def test_api_reoptimize_queues_the_task(pg, staff_client, monkeypatch, django_capture_on_commit_callbacks):
    from config.celery import app

    # The worker itself is exercised in test_usage.py; here the view's hand-off is checked.
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    up = services.upload_asset(name="p.jpg", data=photo_jpeg(200, 150), actor="t", optimize=False)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(f"/api/performance/cdn/assets/{up.asset_id}/optimize", {"reason": "new widths"},
                                     content_type="application/json")
    assert response.status_code == 202
    asset = Asset.objects.get(pk=up.asset_id)
    assert asset.status == "ready" and asset.variants.exists()
    record = AuditRecord.objects.get(action="cdn.optimize_asset")
    assert record.actor_label == "staff" and record.reason == "new widths"
    assert staff_client.post("/api/performance/cdn/assets/999/optimize", {}, content_type="application/json"
                             ).status_code == 404


def test_delete_asset_removes_rows_files_and_cdn_copies(pg, staff_client, media_root):
    from cdn.models import Invalidation

    up = services.upload_asset(name="p.jpg", data=photo_jpeg(200, 150), actor="t", optimize=False)
    services.optimize_asset(asset_id=up.asset_id, actor="t")
    keep = services.upload_asset(name="keep.png", data=alpha_png(30, 20), actor="t", optimize=False)
    keys = {Asset.objects.get(pk=up.asset_id).original_key,
            *Asset.objects.get(pk=up.asset_id).variants.values_list("storage_key", flat=True)}
    response = staff_client.delete(f"/api/performance/cdn/assets/{up.asset_id}", {"reason": "takedown"},
                                   content_type="application/json")
    assert response.status_code == 200 and response.json()["files"] == len(keys)
    assert not Asset.objects.filter(pk=up.asset_id).exists() and Asset.objects.filter(pk=keep.asset_id).exists()
    assert set(stored_files(media_root)).isdisjoint(keys) and len(stored_files(media_root)) == 1
    inv = Invalidation.objects.get(pk=response.json()["invalidation_id"])
    assert set(inv.paths) == {"/" + k for k in keys}
    again = services.delete_asset(asset_id=up.asset_id, actor="t")
    assert not again.deleted
    assert list(AuditRecord.objects.filter(action="cdn.delete_asset").values_list("result", flat=True)
                .order_by("id")) == ["ok", "noop"]
    assert staff_client.delete(f"/api/performance/cdn/assets/{up.asset_id}").status_code == 404
