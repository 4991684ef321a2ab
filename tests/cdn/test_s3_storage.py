"""The S3 storage round trip through django-storages (no release declares Django 5.2,
so it is tested here) with botocore's Stubber at the SDK boundary: an upload writes the
original with the immutable Cache-Control, a duplicate key is not written twice, and
URLs come from the custom domain without a request."""
from __future__ import annotations

import pytest
from botocore.stub import Stubber

from cdn import serving, services, storage
from cdn.models import Asset

from .conftest import photo_jpeg


@pytest.fixture
def s3(settings):
    settings.CDN = {**settings.CDN, "S3_BUCKET": "assets-bucket", "S3_CUSTOM_DOMAIN": "assets.example.com"}
    store = storage.get_storage()
    store.use_threads = False
    client = store.connection.meta.client
    sent: list[dict] = []
    client.meta.events.register("before-parameter-build.s3.PutObject", lambda params, **kw: sent.append(dict(params)))
    return store, client, sent


def test_upload_to_s3_with_immutable_cache_control(pg, s3):
    store, client, sent = s3
    data = photo_jpeg(120, 90)
    with Stubber(client) as stub:
        stub.add_client_error("head_object", "404", "Not Found", http_status_code=404)
        stub.add_response("put_object", {"ETag": '"abc"'})
        result = services.upload_asset(name="p.jpg", data=data, actor="t", optimize=False)
        stub.assert_no_pending_responses()
    asset = Asset.objects.get(pk=result.asset_id)
    assert len(sent) == 1
    assert (sent[0]["Bucket"], sent[0]["Key"]) == ("assets-bucket", asset.original_key)
    assert sent[0]["CacheControl"] == storage.IMMUTABLE and sent[0]["ContentType"] == "image/jpeg"
    # Served from the bucket's custom domain when the CDN is off; no request made.
    assert serving.url_for(asset.original_key) == f"https://assets.example.com/{asset.original_key}"


def test_existing_key_is_not_written_again(pg, s3):
    store, client, sent = s3
    with Stubber(client) as stub:
        stub.add_response("head_object", {"ContentLength": 3})
        assert storage.put("cdn/ab/abc/file.js", b"abc") is False
        stub.assert_no_pending_responses()
    assert sent == []
