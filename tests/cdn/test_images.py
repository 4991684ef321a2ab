"""The image pipeline on real encoded images: widths never upscaled, AVIF/WebP/fallback,
orientation applied, metadata stripped, reduced decode, SSIM, re-runs."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from cdn import images, services
from cdn.models import Asset, Variant
from perfmon.models import AuditRecord

from .conftest import alpha_png, encode, photo, photo_jpeg, rotated_jpeg, stored_files, swapped_rgb_profile


def _optimize(name: str, data: bytes) -> Asset:
    up = services.upload_asset(name=name, data=data, actor="t", optimize=False)
    services.optimize_asset(asset_id=up.asset_id, actor="t", reason="test")
    return Asset.objects.get(pk=up.asset_id)


def _open(media_root, variant: Variant) -> Image.Image:
    img = Image.open(media_root / variant.storage_key)
    img.load()
    return img


def test_photo_gets_responsive_widths_in_three_formats_never_upscaled(pg, media_root):
    asset = _optimize("photo.jpg", photo_jpeg(700, 467))
    variants = list(asset.variants.all())
    assert {v.width for v in variants} == {320, 640}  # 1024 and 1920 would be upscaling
    assert {v.format for v in variants} <= {"avif", "webp", "jpeg"}
    for width in (320, 640):
        fallback = next(v for v in variants if v.width == width and v.format == "jpeg")
        for v in variants:
            if v.width == width:
                img = _open(media_root, v)
                assert img.size == (v.width, v.height) == (width, round(467 * width / 700))
                assert img.format == {"jpeg": "JPEG", "webp": "WEBP", "avif": "AVIF"}[v.format]
                assert v.bytes == (media_root / v.storage_key).stat().st_size
                if v.format != "jpeg":
                    assert v.bytes < fallback.bytes
                assert v.ssim is not None and v.ssim > 0.85
        assert _open(media_root, fallback).info.get("progressive") or _open(media_root, fallback).info.get("progression")
    assert asset.status == "ready" and asset.optimize_count == 1


def test_png_with_transparency_falls_back_to_png_with_alpha(pg, media_root):
    asset = _optimize("logo.png", alpha_png(400, 300))
    formats = {(v.format, v.width) for v in asset.variants.all()}
    assert ("png", 320) in formats and ("png", 400) not in formats and not any(f == "jpeg" for f, _ in formats)
    png = _open(media_root, asset.variants.get(format="png", width=320))
    assert png.mode == "RGBA" and png.getchannel("A").getextrema()[0] < 50
    for v in asset.variants.exclude(format="png"):
        assert _open(media_root, v).mode == "RGBA"


def test_narrow_image_keeps_its_own_width(pg, media_root):
    asset = _optimize("small.jpg", photo_jpeg(200, 120))
    assert set(asset.variants.values_list("width", flat=True)) == {200}


def test_exif_orientation_applied_and_metadata_stripped(pg, media_root):
    asset = _optimize("rotated.jpg", rotated_jpeg())
    v = asset.variants.get(format="jpeg")
    img = _open(media_root, v)
    assert img.size == (300, 400)  # displayed portrait, at its own width (below 320)
    top_right = img.convert("RGB").getpixel((img.width - 10, 10))
    top_left = img.convert("RGB").getpixel((10, 10))
    assert top_right[0] > 200 and top_right[1] < 60  # the red block moved from top-left to top-right
    assert not (top_left[0] > 200 and top_left[1] < 60)
    for variant in asset.variants.all():
        out = _open(media_root, variant)
        assert not out.getexif() and "icc_profile" not in out.info and "exif" not in out.info


def test_icc_profile_is_converted_to_srgb_and_not_kept(pg, media_root):
    img = photo(400, 260)
    img.paste((255, 0, 0), (0, 0, 120, 120))
    asset = _optimize("wide-gamut.jpg", encode(img, "JPEG", quality=95, icc_profile=swapped_rgb_profile()))
    for variant in asset.variants.all():
        out = _open(media_root, variant)
        assert "icc_profile" not in out.info
        r, g, b = out.convert("RGB").getpixel((20, 20))
        assert b > 200 and r < 60  # stored red under a red/blue-swapped profile is blue in sRGB


def test_jpeg_is_decoded_once_at_reduced_size():
    data = photo_jpeg(1600, 1200)
    decoded = images.decode(data, 320)
    # Draft mode picks the smallest DCT scale still at least 320 wide: 1/4 -> 400x300.
    assert decoded.size == (400, 300)
    assert images.decode(data, 1600).size == (1600, 1200)


def test_variant_not_smaller_than_fallback_is_dropped(pg, media_root):
    # A flat, half-transparent image: the PNG fallback is a few hundred bytes and AVIF's
    # container alone is more, so AVIF is not kept.
    flat = Image.new("RGBA", (200, 120), (200, 30, 30, 128))
    asset = _optimize("flat.png", encode(flat, "PNG"))
    sizes = {v.format: v.bytes for v in asset.variants.all()}
    assert "avif" not in sizes and sizes["webp"] < sizes["png"]
    record = AuditRecord.objects.filter(action="cdn.optimize_asset").latest("id")
    [dropped] = record.after["dropped"]
    assert dropped.startswith("avif@200: ") and "not smaller than the png fallback" in dropped


def test_ssim():
    a = photo(120, 80)
    assert images.ssim(a, a) == pytest.approx(1.0)
    noisy = Image.effect_noise((120, 80), 60).convert("RGB")
    blended = Image.blend(a, noisy, 0.5)
    assert 0.0 < images.ssim(a, blended) < 0.8
    buf = io.BytesIO()
    a.save(buf, "JPEG", quality=95)
    assert images.ssim_of(a, buf.getvalue()) > 0.95


def test_avif_tune_reaches_the_encoder_and_an_unknown_one_fails_the_system_check(settings):
    from cdn.checks import check_cdn

    img = photo(320, 213)
    tuned = {tune: images.encode(img, "avif", {"avif": 60}, 8, tune) for tune in ("ssim", "iq")}
    assert tuned["ssim"] != tuned["iq"] and all(images.ssim_of(img, b) > 0.8 for b in tuned.values())
    assert not [e for e in check_cdn() if e.id == "cdn.E005"]
    settings.CDN = {**settings.CDN, "AVIF_TUNE": "sharpest"}
    [error] = [e for e in check_cdn() if e.id == "cdn.E005"]
    assert "AVIF_TUNE='sharpest'" in error.msg and "Invalid codec-specific option" in error.msg


def test_reoptimize_is_a_noop_and_a_setting_change_replaces_files(pg, media_root, settings,
                                                                  django_capture_on_commit_callbacks):
    asset = _optimize("photo.jpg", photo_jpeg(400, 300))
    keys = set(asset.variants.values_list("storage_key", flat=True))
    files = stored_files(media_root)
    result = services.optimize_asset(asset_id=asset.pk, actor="t")
    assert not result.changed and set(asset.variants.values_list("storage_key", flat=True)) == keys
    assert stored_files(media_root) == files
    assert list(AuditRecord.objects.filter(action="cdn.optimize_asset").values_list("result", flat=True)
                .order_by("id")) == ["ok", "noop"]
    settings.CDN = {**settings.CDN, "QUALITY": {"jpeg": 60, "webp": 60, "avif": 40}}
    with django_capture_on_commit_callbacks(execute=True):  # replaced files go once the swap commits
        services.optimize_asset(asset_id=asset.pk, actor="t")
    new_keys = set(asset.variants.values_list("storage_key", flat=True))
    assert new_keys.isdisjoint(keys)
    on_disk = set(stored_files(media_root))
    assert new_keys <= on_disk and not (keys & on_disk) and asset.original_key in on_disk


def test_cmyk_jpeg_and_animated_gif(pg, media_root):
    cmyk = photo(300, 200).convert("CMYK")
    asset = _optimize("print.jpg", encode(cmyk, "JPEG", quality=90))
    assert {v.width for v in asset.variants.all()} == {300}
    assert all(_open(media_root, v).mode == "RGB" for v in asset.variants.all())
    frames = [Image.new("RGB", (40, 30), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    buf = __import__("io").BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100)
    gif = _optimize("spinner.gif", buf.getvalue())
    assert gif.status == "ready" and not gif.variants.exists() and "animated image" in gif.note
