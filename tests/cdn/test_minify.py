"""Scripts and styles (Django admin's own unminified JS and CSS), precompressed copies,
output that does not parse never published, and video without ffmpeg."""
from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import brotli
import django
import pytest

from cdn import minify, services, storage
from cdn.errors import MinifyFailed
from cdn.models import Asset, Variant

ADMIN_STATIC = Path(django.__file__).parent / "contrib/admin/static/admin"


def _optimize(name: str, data: bytes) -> Asset:
    up = services.upload_asset(name=name, data=data, actor="t", optimize=False)
    services.optimize_asset(asset_id=up.asset_id, actor="t")
    return Asset.objects.get(pk=up.asset_id)


@pytest.mark.parametrize("path,fmt", [("js/actions.js", "script"), ("js/core.js", "script"),
                                      ("css/base.css", "style"), ("css/forms.css", "style")])
def test_real_script_and_style_minified_with_precompressed_copies(pg, media_root, path, fmt):
    source = (ADMIN_STATIC / path).read_bytes()
    asset = _optimize(Path(path).name, source)
    assert asset.kind == fmt and asset.metadata["minifier"] == ("tdewolff-minify" if fmt == "script" else "lightningcss")
    mini = asset.variants.get(format="min", encoding="identity")
    body = (media_root / mini.storage_key).read_bytes()
    assert len(body) < 0.8 * len(source)
    parses = minify.parses_as_js if fmt == "script" else minify.parses_as_css
    assert parses(body.decode())
    gz = asset.variants.get(encoding="gzip")
    br = asset.variants.get(encoding="br")
    assert gz.storage_key == mini.storage_key + ".gz" and br.storage_key == mini.storage_key + ".br"
    assert gzip.decompress((media_root / gz.storage_key).read_bytes()) == body
    assert brotli.decompress((media_root / br.storage_key).read_bytes()) == body
    assert br.bytes < gz.bytes < mini.bytes


def test_minified_javascript_keeps_behaviour_when_node_is_there(pg, media_root, tmp_path):
    node = shutil.which("node")
    if not node:
        pytest.skip("node is not installed: behaviour check skipped (parse check still runs)")
    src = "function fib(n){ var a = 0, b = 1; for (var i = 0; i < n; i++) { var t = a + b; a = b; b = t; } return a; }\n" \
          "console.log(JSON.stringify([fib(10), fib(30), typeof fib]));\n"
    out = minify.minify_script(src).text
    import subprocess

    def run(code: str) -> str:
        return subprocess.run([node, "-e", code], capture_output=True, text=True, timeout=30).stdout

    assert run(out) == run(src) == '[55,832040,"function"]\n'
    assert len(out) < len(src)


def test_output_that_does_not_parse_is_never_published(pg, media_root):
    asset = _optimize("actions.js", (ADMIN_STATIC / "js/actions.js").read_bytes())
    before = list(asset.variants.values_list("storage_key", "bytes"))
    # The stored original is damaged after upload (bad disk, bad sync): re-optimizing
    # must fail loudly and keep the published variants.
    (media_root / asset.original_key).write_text("function broken( {")
    with pytest.raises(MinifyFailed, match="does not parse"):
        services.optimize_asset(asset_id=asset.pk, actor="t")
    assert list(asset.variants.values_list("storage_key", "bytes")) == before
    with pytest.raises(MinifyFailed):
        minify.minify_style("a { color: red; } } }} {")


def test_video_without_ffmpeg_gets_a_clear_note(pg, media_root, settings):
    settings.CDN = {**settings.CDN, "FFMPEG_BINARY": ""}
    data = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64
    asset = _optimize("clip.mp4", data)
    assert asset.kind == "video" and asset.status == "ready"
    assert "ffmpeg is not available on this machine" in asset.note and not asset.variants.exists()


def test_video_poster_and_metadata_with_ffmpeg(pg, media_root, tmp_path):
    from PIL import Image

    from cdn.video import ffmpeg_binary

    exe = ffmpeg_binary()
    if not exe:
        pytest.skip("no ffmpeg here (imageio-ffmpeg not installed)")
    import subprocess

    clip = tmp_path / "clip.mp4"
    subprocess.run([exe, "-v", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=2",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-y", str(clip)], check=True, timeout=60)
    asset = _optimize("clip.mp4", clip.read_bytes())
    assert asset.kind == "video" and asset.note == ""
    assert asset.metadata["video"] == {"duration": 2.0, "codec": "h264", "width": 160, "height": 120}
    poster = asset.variants.get(format="poster")
    img = Image.open(media_root / poster.storage_key)
    assert img.format == "JPEG" and img.size == (160, 120) == (poster.width, poster.height)
    garbage = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 200
    broken = _optimize("broken.mp4", garbage)
    assert "no video stream" in broken.note and not broken.variants.exists()


def test_svg_gets_compressed_copies(pg, media_root):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">' + \
        b'<circle cx="50" cy="50" r="40" fill="#336699"/>' * 20 + b"</svg>"
    asset = _optimize("dots.svg", svg)
    assert set(asset.variants.values_list("format", "encoding")) == {("original", "gzip"), ("original", "br")}
    key = asset.variants.get(encoding="gzip").storage_key
    assert key == asset.original_key + ".gz" and gzip.decompress(storage.read(key)) == svg
    assert Variant.objects.filter(asset=asset, encoding="identity").count() == 0


def test_bundle_with_source_map_is_kept_and_its_map_published_beside_it(pg, media_root):
    bundle = b"!function(){console.log(1)}();\n//# sourceMappingURL=app.min.js.map\n"
    source_map = b'{"version":3,"file":"app.min.js","sources":["app.js"],"names":[],"mappings":"AAAA"}'
    first = _optimize("app.min.js", bundle)
    assert "source map app.min.js.map has not been uploaded" in first.note
    up = services.upload_asset(name="app.min.js.map", data=source_map, actor="t", optimize=False)
    assert Asset.objects.get(pk=up.asset_id).mime_type == "application/json"
    services.optimize_asset(asset_id=first.pk, actor="t")
    first.refresh_from_db()
    assert first.note == "" and first.metadata["minifier"] == "kept: has a source map"
    mini = first.variants.get(format="min", encoding="identity")
    assert (media_root / mini.storage_key).read_bytes() == bundle
    mapped = first.variants.get(format="map")
    # Beside the original and the minified copy, where the relative URL points.
    assert mapped.storage_key.rsplit("/", 1) == [mini.storage_key.rsplit("/", 1)[0], "app.min.js.map"]
    assert (media_root / mapped.storage_key).read_bytes() == source_map


def test_failed_optimization_is_recorded_on_the_asset(pg, media_root):
    asset = _optimize("core.js", (ADMIN_STATIC / "js/core.js").read_bytes())
    (media_root / asset.original_key).write_text("var = ;")
    with pytest.raises(MinifyFailed):
        services.optimize_asset(asset_id=asset.pk, actor="t")
    asset.refresh_from_db()
    assert asset.status == "failed" and "does not parse" in asset.note and asset.variants.count() == 3
