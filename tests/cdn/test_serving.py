"""URLs per region, local serving with immutable caching and precompressed copies,
and the <picture> template tag."""
from __future__ import annotations

import re
from pathlib import Path

import django
from django.template import Context, Template
from django.test import RequestFactory

from cdn import services
from cdn.models import Asset

from .conftest import photo_jpeg

ADMIN_JS = Path(django.__file__).parent / "contrib/admin/static/admin/js/actions.js"


def _optimize(name: str, data: bytes) -> Asset:
    up = services.upload_asset(name=name, data=data, actor="t", optimize=False)
    services.optimize_asset(asset_id=up.asset_id, actor="t")
    return Asset.objects.get(pk=up.asset_id)


def _render(text: str, asset: Asset, request=None, **extra) -> str:
    return Template("{% load cdn %}" + text).render(Context({"asset": asset, "request": request, **extra}))


def test_local_serving_when_cdn_is_off(pg, client, media_root):
    asset = _optimize("actions.js", ADMIN_JS.read_bytes())
    mini = asset.variants.get(format="min", encoding="identity")
    url = _render("{% cdn_url asset format='min' %}", asset)
    assert url == f"/api/performance/cdn/files/{mini.storage_key}"
    plain = client.get(url)
    assert plain.status_code == 200 and plain["Cache-Control"] == "public, max-age=31536000, immutable"
    assert b"".join(plain.streaming_content) == (media_root / mini.storage_key).read_bytes()
    assert "Content-Encoding" not in plain and plain["Content-Type"].startswith(("text/javascript",
                                                                                "application/javascript"))
    br = client.get(url, HTTP_ACCEPT_ENCODING="gzip, br")
    assert br["Content-Encoding"] == "br" and br["Vary"] == "Accept-Encoding"
    assert b"".join(br.streaming_content) == (media_root / (mini.storage_key + ".br")).read_bytes()
    etag = plain["ETag"]
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_file_view_refuses_paths_outside_the_assets(pg, client):
    for bad in ("cdn/../../etc/passwd", "etc/passwd", "cdn/ab/nope.js"):
        assert client.get(f"/api/performance/cdn/files/{bad}").status_code == 404


def test_regional_cdn_urls(pg, settings):
    asset = _optimize("p.jpg", photo_jpeg(400, 300))
    settings.CDN = {**settings.CDN, "ENABLED": True, "BASE_URL": "https://cdn.example.com",
                    "REGIONAL_BASE_URLS": {"DE": "https://eu.cdn.example.com"},
                    "REGION_HEADER": "CloudFront-Viewer-Country"}
    rf = RequestFactory()
    german = rf.get("/", HTTP_CLOUDFRONT_VIEWER_COUNTRY="de")
    other = rf.get("/", HTTP_CLOUDFRONT_VIEWER_COUNTRY="BR")
    assert _render("{% cdn_url asset %}", asset, german) == f"https://eu.cdn.example.com/{asset.original_key}"
    assert _render("{% cdn_url asset %}", asset, other) == f"https://cdn.example.com/{asset.original_key}"
    assert _render("{% cdn_url asset %}", asset, rf.get("/")) == f"https://cdn.example.com/{asset.original_key}"


def test_picture_tag(pg):
    asset = _optimize("p.jpg", photo_jpeg(700, 467))
    html = _render('{% cdn_picture asset sizes="(max-width: 640px) 100vw, 640px" alt=caption %}', asset,
                   caption="A <view>")
    assert html.startswith("<picture>") and html.endswith("</picture>")
    sources = re.findall(r'<source type="([^"]+)" srcset="([^"]+)" sizes="([^"]+)">', html)
    formats = {v.format for v in asset.variants.all()}
    assert [s[0] for s in sources] == [m for f, m in (("avif", "image/avif"), ("webp", "image/webp")) if f in formats]
    for _, srcset, sizes in sources:
        assert sizes == "(max-width: 640px) 100vw, 640px" and srcset.endswith("w")
    img = re.search(r'<img src="([^"]+)" srcset="([^"]+)" sizes="[^"]+" width="640" height="427" alt="A &lt;view&gt;"',
                    html)
    assert img and img.group(1).endswith(".jpg") and " 320w, " in img.group(2) and img.group(2).endswith(" 640w")


def test_picture_tag_before_optimization_shows_the_original(pg):
    up = services.upload_asset(name="p.jpg", data=photo_jpeg(100, 80), actor="t", optimize=False)
    html = _render("{% cdn_picture asset alt='x' %}", Asset.objects.get(pk=up.asset_id))
    assert html.startswith('<img src="/api/performance/cdn/files/cdn/') and "<picture>" not in html


def test_svg_is_served_with_a_sandboxing_policy(pg, client):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>'
    up = services.upload_asset(name="dot.svg", data=svg, actor="t", optimize=False)
    response = client.get(f"/api/performance/cdn/files/{Asset.objects.get(pk=up.asset_id).original_key}")
    assert response["Content-Type"] == "image/svg+xml" and "sandbox" in response["Content-Security-Policy"]


def test_asset_list_query_count_is_flat(pg, staff_client, django_assert_max_num_queries):
    for n in range(5):
        services.upload_asset(name=f"p{n}.jpg", data=photo_jpeg(40 + n, 30), actor="t", optimize=False)
    with django_assert_max_num_queries(6):
        body = staff_client.get("/api/performance/cdn/assets?limit=50").json()
    assert body["count"] == 5 and all(row["variant_count"] == 0 for row in body["results"])
