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


def swapped_rgb_profile() -> bytes:
    """A valid ICC v2 matrix/TRC RGB profile whose red and blue primaries are swapped:
    a pixel stored as pure red means pure blue, so a correct conversion to sRGB is
    visible in the pixels."""
    def s15(v: float) -> bytes:
        return struct.pack(">i", round(v * 65536))

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ \0\0\0\0" + s15(x) + s15(y) + s15(z)

    curv = b"curv\0\0\0\0" + struct.pack(">I", 1) + struct.pack(">H", round(2.2 * 256)) + b"\0\0"
    text = b"swapped test RGB\0"
    desc = b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + b"\0" * 8 + b"\0" * 3 + b"\0" * 67
    red, green, blue = (0.4361, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971), (0.1431, 0.0606, 0.7141)
    tags = [(b"desc", desc), (b"wtpt", xyz(0.9642, 1.0, 0.8249)), (b"rXYZ", xyz(*blue)), (b"gXYZ", xyz(*green)),
            (b"bXYZ", xyz(*red)), (b"rTRC", curv), (b"gTRC", curv), (b"bTRC", curv)]
    offset = 128 + 4 + 12 * len(tags)
    table, data = struct.pack(">I", len(tags)), b""
    for sig, body in tags:
        body += b"\0" * (-len(body) % 4)
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body
    header = (struct.pack(">I", 128 + len(table) + len(data)) + b"lcms" + struct.pack(">I", 0x02100000) +
              b"mntrRGB XYZ " + b"\0" * 12 + b"acsp" + b"\0" * 28 + s15(0.9642) + s15(1.0) + s15(0.8249) +
              b"\0" * 48)
    return header + table + data
