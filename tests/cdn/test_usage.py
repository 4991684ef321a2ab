"""CloudFront standard log ingestion, the usage numbers read from it, the overview API,
the folder command and optimization on a real Celery worker."""
from __future__ import annotations

import gzip
from datetime import datetime, timedelta, timezone as dt_timezone
from pathlib import Path

import django
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cdn import services
from cdn.errors import LogError
from cdn.models import Asset, LogFile, UsageDaily
from cdn.usage import FIELDS
from perfmon.models import AuditRecord
from perfmon.registry import Query, get
from tests.support import child_env, need_redis, start_worker, wait_until

from .conftest import alpha_png, photo_jpeg

HEADER = "#Version: 1.0\n#Fields: " + " ".join(FIELDS) + "\n"


def line(day: str, edge: str, path: str, result: str, size: int = 1000) -> str:
    values = {name: "-" for name in FIELDS}
    values.update({"date": day, "time": "10:00:00", "x-edge-location": edge, "sc-bytes": str(size),
                   "c-ip": "192.0.2.1", "cs-method": "GET", "cs(Host)": "d111.cloudfront.net", "cs-uri-stem": path,
                   "sc-status": "200", "x-edge-result-type": result, "x-edge-request-id": "abc",
                   "x-host-header": "cdn.example.com", "cs-protocol": "https", "cs-bytes": "100",
                   "time-taken": "0.002", "x-edge-response-result-type": result, "cs-protocol-version": "HTTP/2.0",
                   "c-port": "443", "time-to-first-byte": "0.001", "x-edge-detailed-result-type": result,
                   "sc-content-type": "image/jpeg", "sc-content-len": str(size)})
    return "\t".join(values[name] for name in FIELDS) + "\n"


@pytest.fixture
def asset_with_variants(pg):
    up = services.upload_asset(name="p.jpg", data=photo_jpeg(400, 300), actor="t", optimize=False)
    services.optimize_asset(asset_id=up.asset_id, actor="t")
    return Asset.objects.get(pk=up.asset_id)


def _write_logs(folder: Path, asset: Asset, day: str) -> None:
    jpeg = "/" + asset.variants.get(format="jpeg").storage_key
    avif = "/" + asset.variants.get(format="avif").storage_key
    first = HEADER + "".join([
        line(day, "IAD89-C1", jpeg, "Hit", 5000), line(day, "IAD89-C1", jpeg, "Hit", 5000),
        line(day, "IAD89-C1", jpeg, "Miss", 5000), line(day, "FRA2-C1", avif, "Miss", 2000),
        line(day, "FRA2-C1", avif, "RefreshHit", 2000), line(day, "FRA2-C1", "/unknown.js", "Error", 0),
    ]) + "this line is not a log line\n"
    (folder / "E2EXAMPLE.2026-11-28-10.abcd.gz").write_bytes(gzip.compress(first.encode()))
    (folder / "E2EXAMPLE.2026-11-28-11.efgh").write_text(HEADER + line(day, "FRA2-C1", avif, "Hit", 2000))


def test_ingest_cloudfront_logs_into_daily_aggregates(asset_with_variants, tmp_path):
    asset = asset_with_variants
    day = datetime.now(dt_timezone.utc).date().isoformat()
    _write_logs(tmp_path, asset, day)
    result = services.ingest_cdn_logs(folder=tmp_path, actor="t")
    assert (result.ingested, result.lines, result.skipped) == (2, 7, 1)
    jpeg_row = UsageDaily.objects.get(result_type="Hit", edge_location="IAD89-C1")
    assert (jpeg_row.hits, jpeg_row.bytes, jpeg_row.region) == (2, 10000, "IAD")
    assert jpeg_row.asset_id == asset.pk and jpeg_row.variant.format == "jpeg"
    assert UsageDaily.objects.get(path="/unknown.js").asset_id is None
    # Again: every file is known by its content hash; nothing is counted twice.
    again = services.ingest_cdn_logs(folder=tmp_path, actor="t")
    assert (again.ingested, again.already) == (0, 2)
    assert sum(UsageDaily.objects.values_list("hits", flat=True)) == 7 and LogFile.objects.count() == 2
    assert list(AuditRecord.objects.filter(action="cdn.ingest_cdn_logs").values_list("result", flat=True)
                .order_by("id")) == ["ok", "noop"]

    from cdn import selectors

    usage = selectors.usage_summary(days=1)
    assert usage["requests"] == 7 and usage["hit_ratio"] == round(4 / 7, 4) and usage["miss_rate"] == round(2 / 7, 4)
    assert usage["top_assets"][0] == {"asset_id": asset.pk, "name": "p.jpg", "requests": 6, "bytes": 21000}
    assert usage["legacy_format_bytes"] == 15000  # the JPEG fallback's bytes
    assert {r["region"]: r["miss_rate"] for r in usage["regions"]} == {"IAD": round(1 / 3, 4), "FRA": 0.25}
    metric = get("cdn.miss_rate").read(Query(end=datetime.now(dt_timezone.utc), window=timedelta(days=1)))
    assert {s.labels["region"]: round(s.value, 4) for s in metric} == {"IAD": round(1 / 3, 4), "FRA": 0.25}
    hits = get("cdn.hit_ratio").read(Query(end=datetime.now(dt_timezone.utc), window=timedelta(days=1),
                                           labels={"region": "FRA"}))
    assert [(s.labels, s.value) for s in hits] == [({"region": "FRA"}, 0.5)]  # RefreshHit + Hit of 4


def test_bad_log_input(pg, tmp_path):
    with pytest.raises(LogError, match="is not a folder"):
        services.ingest_cdn_logs(folder=tmp_path / "missing", actor="t")
    (tmp_path / "broken.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(LogError, match="not a readable"):
        services.ingest_cdn_logs(folder=tmp_path, actor="t")
    assert not UsageDaily.objects.exists() and not LogFile.objects.exists()


def test_overview_api(asset_with_variants, staff_client, tmp_path, django_assert_max_num_queries):
    day = datetime.now(dt_timezone.utc).date().isoformat()
    _write_logs(tmp_path, asset_with_variants, day)
    call_command("ingest_cdn_logs", str(tmp_path))
    with django_assert_max_num_queries(16):
        body = staff_client.get("/api/performance/cdn").json()
    assert body["enabled"] is False and body["backend"]["backend"] == "cdn.backends.local.LocalBackend"
    assert body["assets"] == {"total": 1, "ready": 1}
    assert body["usage"]["hit_ratio"] == round(4 / 7, 4)
    saved = body["optimization"]
    assert saved["original_bytes"] == asset_with_variants.size
    assert 0 < saved["optimized_bytes"] < saved["original_bytes"]
    detail = staff_client.get(f"/api/performance/cdn/assets/{asset_with_variants.pk}").json()
    assert {v["format"] for v in detail["variants"]} <= {"avif", "webp", "jpeg"} and len(detail["variants"]) >= 2
    assert staff_client.get("/api/performance/cdn/assets/99999").json()["error"]["code"] == "unknown_asset"


def test_optimize_assets_command_on_a_static_folder(pg, tmp_path, capsys):
    folder = tmp_path / "static"
    (folder / "admin").mkdir(parents=True)
    admin = Path(django.__file__).parent / "contrib/admin/static/admin"
    (folder / "admin/base.css").write_bytes((admin / "css/base.css").read_bytes())
    (folder / "admin/core.js").write_bytes((admin / "js/core.js").read_bytes())
    (folder / "logo.png").write_bytes(alpha_png(80, 60))
    (folder / "fake.jpg").write_bytes(b"GIF89a not really")
    (folder / "admin/core.js.gz").write_bytes(b"precompressed copies are skipped")
    call_command("optimize_assets", str(folder), "--dry-run")
    assert not Asset.objects.exists()
    call_command("optimize_assets", str(folder))
    out = capsys.readouterr()
    assert "4 files: 3 new, 0 already stored, 3 optimized, 1 refused" in out.out and "fake.jpg" in out.err
    assert set(Asset.objects.values_list("kind", "status")) == {("style", "ready"), ("script", "ready"),
                                                                 ("image", "ready")}
    call_command("optimize_assets", str(folder))
    assert "0 new, 3 already stored, 0 optimized" in capsys.readouterr().out
    with pytest.raises(CommandError, match="is not a folder"):
        call_command("optimize_assets", str(tmp_path / "nope"))


def test_settings_validation():
    from django.core.exceptions import ImproperlyConfigured

    from config.settings.base import from_environ

    good = from_environ({"CDN_REGIONAL_BASE_URLS": "de=https://eu.cdn.example,US=https://us.cdn.example",
                         "CDN_IMAGE_WIDTHS": "640,320", "DEBUG": "true"})["CDN"]
    assert good["REGIONAL_BASE_URLS"] == {"DE": "https://eu.cdn.example", "US": "https://us.cdn.example"}
    assert good["IMAGE_WIDTHS"] == [320, 640]
    for env, name in (({"CDN_REGIONAL_BASE_URLS": "DE"}, "CDN_REGIONAL_BASE_URLS"),
                      ({"CDN_IMAGE_WIDTHS": "320,big"}, "CDN_IMAGE_WIDTHS"),
                      ({"CDN_AVIF_SPEED": "12"}, "CDN_AVIF_SPEED")):
        with pytest.raises(ImproperlyConfigured, match=name):
            from_environ({**env, "DEBUG": "true"})


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_upload_is_optimized_by_a_real_celery_worker(tmp_path, monkeypatch, settings, media_root):
    need_redis()
    queue = "cdn-test-optimize"
    worker = start_worker(tmp_path, child_env(CELERY_DEFAULT_QUEUE=queue, MEDIA_ROOT=str(media_root)), queue,
                          "w-cdn", monkeypatch)
    try:
        result = services.upload_asset(name="p.jpg", data=photo_jpeg(360, 240), actor="t")
        wait_until(lambda: Asset.objects.get(pk=result.asset_id).status == "ready", 60,
                   message="the worker to optimize the asset")
        asset = Asset.objects.get(pk=result.asset_id)
        assert asset.variants.filter(format="jpeg", width=320).exists() and asset.optimize_count == 1
        assert all((media_root / key).exists() for key in asset.variants.values_list("storage_key", flat=True))
        record = AuditRecord.objects.get(action="cdn.optimize_asset")
        assert record.actor_label == "task" and record.result == "ok"
    finally:
        worker.stop()
        if worker.alive() is False and "Traceback" in worker.output():
            print(worker.output()[-3000:])


def test_ingest_from_an_s3_prefix(asset_with_variants, monkeypatch):
    import io

    import boto3
    from botocore.response import StreamingBody
    from botocore.stub import Stubber

    from cdn import usage

    day = datetime.now(dt_timezone.utc).date().isoformat()
    jpeg = "/" + asset_with_variants.variants.get(format="jpeg").storage_key
    body = gzip.compress((HEADER + line(day, "NRT57-C2", jpeg, "Hit") + line(day, "NRT57-C2", jpeg, "Miss")).encode())
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
    monkeypatch.setattr(usage, "s3_client", lambda: client)
    key = "cf-logs/E2EXAMPLE.2026-11-29-03.a1b2c3.gz"
    listing = {"Contents": [{"Key": key, "Size": len(body)}], "IsTruncated": False, "KeyCount": 1}
    with Stubber(client) as stub:
        stub.add_response("list_objects_v2", listing, {"Bucket": "logs", "Prefix": "cf-logs/"})
        stub.add_response("get_object", {"Body": StreamingBody(io.BytesIO(body), len(body))},
                          {"Bucket": "logs", "Key": key})
        first = services.ingest_cdn_logs(folder="s3://logs/cf-logs/", actor="t")
        # A second run lists the prefix again but downloads nothing it already has.
        stub.add_response("list_objects_v2", listing, {"Bucket": "logs", "Prefix": "cf-logs/"})
        second = services.ingest_cdn_logs(folder="s3://logs/cf-logs/", actor="t")
        stub.assert_no_pending_responses()
    assert (first.ingested, first.lines, second.ingested, second.already) == (1, 2, 0, 1)
    assert LogFile.objects.get().name == f"s3://logs/{key}"
    assert sorted(UsageDaily.objects.values_list("region", "result_type", "hits")) == [("NRT", "Hit", 1),
                                                                                       ("NRT", "Miss", 1)]


@pytest.mark.django_db(transaction=True)
def test_concurrent_uploads_of_the_same_content_make_one_asset(media_root):
    import threading

    from django.db import connection

    from tests.support import need_postgres

    need_postgres()
    data = photo_jpeg(160, 120)
    results, errors = [], []

    def upload(n: int) -> None:
        try:
            results.append(services.upload_asset(name=f"copy{n}.jpg", data=data, actor="t", optimize=False))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and Asset.objects.count() == 1
    assert len({r.asset_id for r in results}) == 1 and sum(r.created for r in results) == 1
    files = [str(p.relative_to(media_root)) for p in media_root.rglob("*") if p.is_file()]
    assert files == [Asset.objects.get().original_key]
