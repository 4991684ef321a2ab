"""cdn's settings: the CDN dict, with defaults (the DRF api_settings pattern)."""
from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Serve through the CDN (BASE_URL and REGIONAL_BASE_URLS); off: URLs point at this server.
    "ENABLED": False,
    "BASE_URL": "",
    # Region code (the value of REGION_HEADER, e.g. a country) -> base URL.
    "REGIONAL_BASE_URLS": {},
    "REGION_HEADER": "CloudFront-Viewer-Country",
    # Responsive widths; an image is never upscaled, so a narrower original gets fewer.
    "IMAGE_WIDTHS": [320, 640, 1024, 1920],
    "MAX_UPLOAD_BYTES": 50 * 1024 * 1024,
    # Decompression-bomb guard: an image declaring more pixels is refused before decoding.
    "MAX_IMAGE_PIXELS": 50_000_000,
    # libavif speed: 8 is about 2.5x faster than 6 for about 12 % more bytes (measured here).
    "AVIF_SPEED": 8,
    # libaom tuning: "ssim" (our quality measure), "iq" (libavif 1.4's default, tuned for
    # SSIMULACRA 2) or "psnr".
    "AVIF_TUNE": "ssim",
    # Brotli level for precompressed copies: 11 runs at ~1 MB/s, 5 at ~75 MB/s for ~17 % more.
    "BROTLI_LEVEL": 5,
    # Quality per format, chosen so SSIM against the resized original is about equal
    # across formats: calibrated by bench/cdn/run_images.py --calibrate (SSIM ~0.96 at 1024 px).
    "QUALITY": {"jpeg": 80, "webp": 82, "avif": 66},
    # Storage: local FileSystemStorage under MEDIA_ROOT; S3 (django-storages) when a bucket is set.
    "S3_BUCKET": "",
    "S3_CUSTOM_DOMAIN": "",
    "STORAGE_PREFIX": "cdn",
    # ffmpeg for video posters and metadata: "auto" (PATH, then the imageio-ffmpeg wheel's), "" off, or a path.
    "FFMPEG_BINARY": "auto",
    # Folder that CloudFront standard logs are copied into (ingest_cdn_logs reads it).
    "LOG_FOLDER": "",
    "BACKENDS": {"default": {"BACKEND": "cdn.backends.local.LocalBackend", "OPTIONS": {}}},
}


# Settings an admin may change at run time (PUT /api/performance/settings): read through
# perfmon's live settings, so every process sees a change within about a second.
LIVE = {"ENABLED", "BASE_URL"}


class CdnSettings:
    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"CDN has no setting {name!r}")
        default = getattr(settings, "CDN", {}).get(name, DEFAULTS[name])
        if name in LIVE:
            from perfmon.ops import live_settings

            return live_settings.for_section("CDN", name, default)
        return default


cdn_settings = CdnSettings()
