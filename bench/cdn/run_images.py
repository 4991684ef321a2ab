"""The image pipeline against a naive Pillow pipeline on 12-megapixel photographs.

    .venv/bin/python bench/cdn/run_images.py [--images 3] [--rounds 2] [--calibrate]
    .venv/bin/python bench/cdn/run_images.py --real

Naive: full decode, EXIF transpose, resize from full size to each width, save JPEG q82,
WebP q80, AVIF q60 at Pillow's default speed (6) and libavif's default tune -- the
figures in the issue. Ours:
cdn.images.build_variants with the CDN QUALITY defaults (one draft-mode decode, chained
resizes with reducing_gap, AVIF speed 8 tuned for SSIM, formats encoded on two threads). Both run in
the same process, alternating, on the same files. SSIM (cdn.images.ssim, luma, 7x7) is
measured for every variant against the same reference: the full-size decode resized
with LANCZOS to that width. --calibrate searches each format's quality for the SSIM of
the JPEG fallback at q80 (what the QUALITY defaults were chosen from). --real
measures bytes and SSIM per format on real photographs (bench/cdn/real_photos.py)
and writes results_real_photos.json; otherwise bench/cdn/results_images.json.
"""
from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageOps  # noqa: E402

from bench.cdn.photos import photo_jpeg  # noqa: E402
from bench.cdn.real_photos import real_photos  # noqa: E402
from cdn import images  # noqa: E402
from cdn.conf import DEFAULTS  # noqa: E402

WIDTHS = [320, 640, 1024, 1920]
NAIVE_QUALITY = {"jpeg": 82, "webp": 80, "avif": 60}
OUT = ROOT / "bench" / "out"


def naive(data: bytes) -> dict[tuple[str, int], bytes]:
    img = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    out = {}
    for width in WIDTHS:
        resized = img.resize((width, round(img.height * width / img.width)), Image.Resampling.LANCZOS)
        for fmt, pil in (("jpeg", "JPEG"), ("webp", "WEBP"), ("avif", "AVIF")):
            buf = io.BytesIO()
            resized.save(buf, pil, quality=NAIVE_QUALITY[fmt])
            out[(fmt, width)] = buf.getvalue()
    return out


def ours(data: bytes) -> dict[tuple[str, int], bytes]:
    result = images.build_variants(data, widths=WIDTHS, quality=DEFAULTS["QUALITY"],
                                   avif_speed=DEFAULTS["AVIF_SPEED"], avif_tune=DEFAULTS["AVIF_TUNE"],
                                   measure_ssim_up_to=0)
    return {(v.format, v.width): v.data for v in result.variants}


def references(data: bytes) -> dict[int, Image.Image]:
    img = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    return {w: img.resize((w, round(img.height * w / img.width)), Image.Resampling.LANCZOS) for w in WIDTHS}


def score(variants: dict[tuple[str, int], bytes], refs: dict[int, Image.Image]) -> dict[str, dict]:
    per_format: dict[str, dict] = {}
    for (fmt, width), blob in variants.items():
        entry = per_format.setdefault(fmt, {"bytes": 0, "ssim": [], "widths": []})
        entry["bytes"] += len(blob)
        entry["ssim"].append(images.ssim_of(refs[width], blob))
        entry["widths"].append(width)
    return per_format


def calibrate(data: bytes, avif_speed: int = DEFAULTS["AVIF_SPEED"], avif_tune: str = DEFAULTS["AVIF_TUNE"]) -> dict:
    """At 1024 px: the SSIM of the JPEG fallback at q80, and the smallest WebP and AVIF
    quality reaching it, with their bytes against the JPEG's."""
    ref = references(data)[1024]

    def ssim_at(fmt: str, q: int) -> tuple[float, int]:
        blob = images.encode(ref, fmt, {"jpeg": q, "webp": q, "avif": q}, avif_speed, avif_tune)
        return images.ssim_of(ref, blob), len(blob)

    target, jpeg_bytes = ssim_at("jpeg", 80)
    found = {"target_ssim": round(target, 4), "avif_speed": avif_speed, "avif_tune": avif_tune,
             "jpeg": {"quality": 80, "bytes": jpeg_bytes}}
    for fmt in ("webp", "avif"):
        lo, hi = 1, 100
        while lo < hi:  # smallest quality reaching the target SSIM
            mid = (lo + hi) // 2
            if ssim_at(fmt, mid)[0] >= target:
                hi = mid
            else:
                lo = mid + 1
        s, b = ssim_at(fmt, lo)
        found[fmt] = {"quality": lo, "ssim": round(s, 4), "bytes": b, "vs_jpeg": round(b / jpeg_bytes, 3)}
    return found


# (AVIF speed, libaom tune) pairs at which real() finds each photo's equal-SSIM AVIF bytes:
# the shipped pair, libavif 1.4's own default tune, and the slower speed.
REAL_SETTINGS = {"speed8_tune_ssim": (8, "ssim"), "speed8_tune_iq": (8, "iq"), "speed6_tune_ssim": (6, "ssim")}


def real(paths: list[Path]) -> dict:
    """Bytes and SSIM per format on real photographs: the shipped QUALITY defaults over
    the four widths, and each photo's own equal-SSIM AVIF bytes at REAL_SETTINGS."""
    rows, ratios = [], {"shipped": [], **{f"equal_ssim_{name}": [] for name in REAL_SETTINGS}}
    for path in paths:
        data = path.read_bytes()
        per_format = score(ours(data), references(data))
        shipped = {fmt: {"bytes": e["bytes"], "ssim_mean": round(statistics.mean(e["ssim"]), 4)}
                   for fmt, e in per_format.items()}
        equal = {name: calibrate(data, speed, tune) for name, (speed, tune) in REAL_SETTINGS.items()}
        rows.append({"photo": path.stem, "size": Image.open(path).size, "shipped_defaults": shipped,
                     **{f"equal_ssim_{name}": found for name, found in equal.items()}})
        ratios["shipped"].append(shipped["avif"]["bytes"] / shipped["jpeg"]["bytes"])
        for name, found in equal.items():
            ratios[f"equal_ssim_{name}"].append(found["avif"]["vs_jpeg"])
        print(f"{path.stem}: AVIF/JPEG bytes {ratios['shipped'][-1]:.2f} with the defaults "
              f"(SSIM {shipped['avif']['ssim_mean']} vs {shipped['jpeg']['ssim_mean']}); at equal SSIM "
              + ", ".join(f"{found['avif']['vs_jpeg']:.2f} ({name})" for name, found in equal.items()), flush=True)
    summary = {name: {"geomean": round(statistics.geometric_mean(v), 3), "min": round(min(v), 3),
                      "max": round(max(v), 3)} for name, v in ratios.items()}
    return {"photos": rows, "avif_bytes_vs_jpeg": summary}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--real", action="store_true",
                        help="bytes and SSIM per format on real photographs from Debian's packages")
    args = parser.parse_args()
    if args.real:
        result = real(real_photos())
        print(json.dumps(result["avif_bytes_vs_jpeg"], indent=1))
        (Path(__file__).parent / "results_real_photos.json").write_text(json.dumps(result, indent=1) + "\n")
        return
    OUT.mkdir(exist_ok=True)
    files = []
    for seed in range(args.images):
        path = OUT / f"photo-12mp-{seed}.jpg"
        if not path.exists():
            path.write_bytes(photo_jpeg(seed))
        files.append(path.read_bytes())
    if args.calibrate:
        print(json.dumps([calibrate(d) for d in files], indent=1))
        return
    times: dict[str, list[float]] = {"naive": [], "ours": []}
    quality: dict[str, dict[str, dict]] = {"naive": {}, "ours": {}}
    for data in files:
        refs = references(data)
        for _ in range(args.rounds):
            for name, fn in (("naive", naive), ("ours", ours)):
                start = time.perf_counter()
                fn(data)
                times[name].append(time.perf_counter() - start)
        for name, fn in (("naive", naive), ("ours", ours)):
            for fmt, entry in score(fn(data), refs).items():
                agg = quality[name].setdefault(fmt, {"bytes": 0, "ssim": [], "variants": 0})
                agg["bytes"] += entry["bytes"]
                agg["ssim"] += entry["ssim"]
                agg["variants"] += len(entry["widths"])
    result = {"images": len(files), "rounds": args.rounds, "megapixels": 12.0, "widths": WIDTHS,
              "quality": {"naive": NAIVE_QUALITY, "ours": DEFAULTS["QUALITY"]}, "avif_speed_ours": DEFAULTS["AVIF_SPEED"],
              "avif_tune_ours": DEFAULTS["AVIF_TUNE"]}
    for name in ("naive", "ours"):
        result[name] = {
            "seconds_per_image_median": round(statistics.median(times[name]), 3),
            "seconds_per_image_min": round(min(times[name]), 3),
            "formats": {fmt: {"bytes_per_image": a["bytes"] // len(files), "variants": a["variants"],
                              "ssim_mean": round(statistics.mean(a["ssim"]), 4),
                              "ssim_min": round(min(a["ssim"]), 4)} for fmt, a in sorted(quality[name].items())},
        }
    result["speedup"] = round(result["naive"]["seconds_per_image_median"] / result["ours"]["seconds_per_image_median"], 2)
    fo = result["ours"]["formats"]
    if "avif" in fo and "jpeg" in fo:
        result["ours_avif_bytes_vs_jpeg"] = round(fo["avif"]["bytes_per_image"] / fo["jpeg"]["bytes_per_image"], 3)
    print(json.dumps(result, indent=1))
    (Path(__file__).parent / "results_images.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
