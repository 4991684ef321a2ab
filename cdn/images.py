"""The image pipeline: one reduced decode, responsive widths, AVIF/WebP/fallback.

A JPEG is decoded once, in draft mode, at the smallest DCT scale (1/2, 1/4, 1/8) that
still covers the largest width wanted, so a 12-megapixel photo never pays a full-size
decode. EXIF orientation is applied, the colour profile converted to sRGB, and no
metadata is written to any variant. Each width is resized from the next larger one
with `reducing_gap`. A variant is kept only when it is smaller than the fallback of the
same width (progressive JPEG, or optimized PNG when the image has transparency).
"""
from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageCms, ImageOps

_SRGB = ImageCms.createProfile("sRGB")
# EXIF orientations that swap width and height.
_TRANSPOSED = {5, 6, 7, 8}


@dataclass(frozen=True)
class Encoded:
    format: str  # avif, webp, jpeg, png
    width: int
    height: int
    data: bytes
    ssim: float | None = None


@dataclass(frozen=True)
class PipelineResult:
    variants: list[Encoded]
    dropped: list[str]  # "avif@320: 5,120 bytes, not smaller than the jpeg fallback (4,900)"
    source_size: tuple[int, int]  # after orientation
    has_alpha: bool


def target_widths(width: int, widths: list[int]) -> list[int]:
    """The configured widths not above the original; the original width itself when it
    is narrower than all of them (never upscaled)."""
    chosen = sorted({w for w in widths if w <= width}, reverse=True)
    return chosen or [width]


def decode(data: bytes, largest: int) -> Image.Image:
    """Decode once, shrinking on load where the codec allows; oriented, sRGB, no metadata."""
    img = Image.open(io.BytesIO(data))
    orientation = img.getexif().get(0x0112, 1)
    if img.format == "JPEG":
        w, h = img.size
        if orientation in _TRANSPOSED:
            w, h = h, w
        scale = largest / w
        want = (max(1, int(img.size[0] * scale)), max(1, int(img.size[1] * scale)))
        img.draft("RGB" if img.mode != "CMYK" else "CMYK", want)
    img.load()
    icc = img.info.get("icc_profile")
    if icc:
        img = _to_srgb(img, icc)
    img = _to_working_mode(img)
    return ImageOps.exif_transpose(img) if orientation != 1 else img


def _to_working_mode(img: Image.Image) -> Image.Image:
    alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    if alpha:
        img = img.convert("RGBA")
        # Fully opaque alpha is no transparency: such an image takes the JPEG family.
        if img.getchannel("A").getextrema() == (255, 255):
            return img.convert("RGB")
        return img
    return img if img.mode == "RGB" else img.convert("RGB")


def _to_srgb(img: Image.Image, icc: bytes) -> Image.Image:
    """Pixels converted from the embedded profile (RGB, CMYK or grey) to sRGB; alpha kept.
    An unreadable or mismatched profile leaves the pixels as they are, as browsers do."""
    alpha = img.getchannel("A") if img.mode in ("RGBA", "LA") else None
    base = img.convert(img.mode[:-1]) if alpha is not None else img
    if base.mode not in ("RGB", "CMYK", "L"):
        return img
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        out = ImageCms.profileToProfile(base, source, _SRGB, outputMode="RGB")
    except (OSError, ImageCms.PyCMSError):
        return img
    if alpha is not None:
        out.putalpha(alpha)
    return out


def resize_chain(base: Image.Image, widths: list[int], original: tuple[int, int]) -> list[Image.Image]:
    """One image per width (descending), each resized from the previous, larger one;
    heights follow the original's aspect ratio (not the rounded intermediate's)."""
    out: list[Image.Image] = []
    current = base
    for width in widths:
        height = max(1, round(original[1] * width / original[0]))
        if (width, height) == current.size:
            img = current
        else:
            img = current.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
        out.append(img)
        current = img
    return out


def encode(img: Image.Image, fmt: str, quality: dict[str, int], avif_speed: int, avif_tune: str = "ssim") -> bytes:
    # Image.save keeps its options on the Image object (encoderinfo): threads encoding
    # one image into several formats each need their own wrapper around the shared pixels.
    img = img._new(img.im)
    img.info = {}  # no EXIF, ICC profile or comments in any variant: pixels are sRGB already
    buf = io.BytesIO()
    if fmt == "jpeg":
        img.save(buf, "JPEG", quality=quality["jpeg"], optimize=True, progressive=True, subsampling="4:2:0")
    elif fmt == "png":
        img.save(buf, "PNG", optimize=True)
    elif fmt == "webp":
        img.save(buf, "WEBP", quality=quality["webp"], method=4)
    elif fmt == "avif":
        # libavif 1.4 tunes libaom for SSIMULACRA 2 ("iq") unless told otherwise; we hold
        # formats to equal SSIM, and tune=ssim reaches it in about 10 % fewer bytes (measured
        # on real photographs, bench/cdn/run_images.py --real).
        img.save(buf, "AVIF", quality=quality["avif"], speed=avif_speed, subsampling="4:2:0",
                 advanced={"tune": avif_tune})
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return buf.getvalue()


def build_variants(data: bytes, *, widths: list[int], quality: dict[str, int], avif_speed: int,
                   avif_tune: str = "ssim", measure_ssim_up_to: int = 640, threads: int = 2) -> PipelineResult:
    """Every width in AVIF, WebP and the fallback; SSIM measured for widths up to
    `measure_ssim_up_to` (0: none). Pure: bytes in, encoded variants out."""
    with Image.open(io.BytesIO(data)) as probe:
        w, h = probe.size
        if probe.getexif().get(0x0112, 1) in _TRANSPOSED:
            w, h = h, w
    chosen = target_widths(w, widths)
    base = decode(data, chosen[0])  # the first frame of an animation (services keep animations as they are)
    images = resize_chain(base, chosen, (w, h))
    has_alpha = base.mode == "RGBA"
    fallback = "png" if has_alpha else "jpeg"
    jobs = [(img, fmt) for img in images for fmt in ("avif", "webp", fallback)]
    # The codecs release the GIL while encoding, so formats encode in parallel.
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        encoded = list(pool.map(lambda job: encode(job[0], job[1], quality, avif_speed, avif_tune), jobs))
    kept: list[Encoded] = []
    dropped: list[str] = []
    by_width = {}
    for (img, fmt), blob in zip(jobs, encoded, strict=True):
        by_width.setdefault(img.width, {})[fmt] = (img, blob)
    for width, formats in by_width.items():
        ref_img, ref_blob = formats[fallback]
        for fmt in ("avif", "webp", fallback):
            img, blob = formats[fmt]
            if fmt != fallback and len(blob) >= len(ref_blob):
                dropped.append(f"{fmt}@{width}: {len(blob):,} bytes, not smaller than the {fallback} "
                               f"fallback ({len(ref_blob):,})")
                continue
            score = ssim_of(img, blob) if width <= measure_ssim_up_to else None
            kept.append(Encoded(fmt, img.width, img.height, blob, score))
    return PipelineResult(kept, dropped, (w, h), has_alpha)


def ssim_of(reference: Image.Image, encoded: bytes) -> float:
    with Image.open(io.BytesIO(encoded)) as decoded:
        return ssim(reference, decoded)


def ssim(a: Image.Image, b: Image.Image) -> float:
    """Mean SSIM of the luma planes (Wang et al. 2004, 7x7 uniform window as in
    scikit-image's default, K1=0.01, K2=0.03, L=255)."""
    x = np.asarray(a.convert("L"), dtype=np.float64)
    y = np.asarray(b.convert("L"), dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"SSIM needs equal sizes, got {x.shape} and {y.shape}")
    win = 7 if min(x.shape) >= 7 else (min(x.shape) | 1) - (0 if min(x.shape) % 2 else 1)
    win = max(win, 1)
    n = win * win
    mx, my = _box(x, win), _box(y, win)
    sxx = _box(x * x, win) - mx * mx
    syy = _box(y * y, win) - my * my
    sxy = _box(x * y, win) - mx * my
    cov_norm = n / max(n - 1, 1)  # sample covariance, like scikit-image
    sxx, syy, sxy = sxx * cov_norm, syy * cov_norm, sxy * cov_norm
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(s.mean())


def _box(arr: np.ndarray, win: int) -> np.ndarray:
    """Mean over every win x win window (valid positions only), by summed-area table."""
    c = np.cumsum(np.cumsum(np.pad(arr, ((1, 0), (1, 0))), axis=0), axis=1)
    s = c[win:, win:] - c[:-win, win:] - c[win:, :-win] + c[:-win, :-win]
    return s / (win * win)
