"""Fixtures for cdn tests: a private MEDIA_ROOT per test and image makers that
produce real encoded files (photo-like JPEG, PNG with transparency, EXIF-rotated)."""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support import need_postgres


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = str(root)
    return root


@pytest.fixture
def pg(db):
    need_postgres()


def photo(width: int = 700, height: int = 467, seed: int = 1) -> Image.Image:
    """Photograph-like: smooth gradients, soft shapes and sensor-like noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 120 + 100 * np.sin(x / width * 3.1) * np.cos(y / height * 2.3)
    g = 90 + 80 * (y / height) + 30 * np.sin((x + y) / 37.0)
    b = 160 - 90 * (x / width)
    for cx, cy, rad, col in ((0.3, 0.4, 0.15, (230, 200, 40)), (0.7, 0.6, 0.2, (30, 60, 140))):
        mask = ((x - cx * width) ** 2 + (y - cy * height) ** 2) < (rad * width) ** 2
        r, g, b = (np.where(mask, col[i] * 0.8 + c * 0.2, c) for i, c in enumerate((r, g, b)))
    arr = np.stack([r, g, b], -1) + rng.normal(0, 6, (height, width, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype("uint8"))


def encode(img: Image.Image, fmt: str = "JPEG", **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def photo_jpeg(width: int = 700, height: int = 467, **kwargs) -> bytes:
    return encode(photo(width, height), "JPEG", quality=92, **kwargs)


def alpha_png(width: int = 400, height: int = 300) -> bytes:
    img = photo(width, height, seed=2).convert("RGBA")
    alpha = Image.linear_gradient("L").resize((width, height))
    img.putalpha(alpha)
    return encode(img, "PNG")


def rotated_jpeg() -> bytes:
    """Stored 400x300 landscape with a red block top-left and EXIF orientation 6
    (display rotated 90 degrees clockwise: 300x400 portrait, red block top-right)."""
    img = photo(400, 300, seed=3)
    img.paste((255, 0, 0), (0, 0, 80, 80))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "TestCam"  # Make: metadata that must not survive
    return encode(img, "JPEG", quality=92, exif=exif.tobytes())


def png_bomb(width: int = 60000, height: int = 60000) -> bytes:
    """A PNG whose header declares width x height pixels with almost no data."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + \
        chunk(b"IEND", b"")


def stored_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
