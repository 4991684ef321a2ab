"""Photograph-like 12-megapixel test images, made here (no download): 1/f ("pink")
texture like natural scenes, smooth lighting gradients, soft-edged shapes, fine
high-frequency detail and sensor noise, saved as a camera would (JPEG q92, 4:2:0)."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter


def pink_noise(height: int, width: int, rng: np.random.Generator, beta: float = 1.8) -> np.ndarray:
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    spectrum = (rng.normal(size=f.shape) + 1j * rng.normal(size=f.shape)) / f ** (beta / 2)
    spectrum[0, 0] = 0
    field = np.fft.irfft2(spectrum, s=(height, width))
    return (field - field.mean()) / field.std()


def photo(width: int = 4000, height: int = 3000, seed: int = 0) -> Image.Image:
    """A landscape: smooth sky with haze, a horizon, textured ground in focus, soft
    out-of-focus objects, lens softness and sensor noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    horizon = height * (0.45 + 0.05 * np.sin(x / width * 5 + seed)) + 60 * pink_noise(1, width, rng)[0]
    sky_t = np.clip(y / horizon, 0, 1)
    sky = np.stack([90 + 120 * sky_t, 140 + 90 * sky_t, 230 - 10 * sky_t], -1)
    clouds = np.clip(pink_noise(height, width, rng, beta=3.2).astype(np.float32), 0, None)[..., None]
    sky = sky + 55 * clouds
    texture = pink_noise(height, width, rng, beta=2.1).astype(np.float32)[..., None]
    depth = np.clip((y - horizon) / (height - horizon.min()), 0, 1)[..., None]  # 0 far .. 1 near
    ground_colour = np.array([95, 120, 60], np.float32) * (0.7 + 0.5 * depth)
    ground = ground_colour + (12 + 30 * depth) * texture
    img = np.where((y > horizon)[..., None], ground, sky)
    for _ in range(7):  # objects: soft-edged, lightly textured
        cx, cy, r = rng.uniform(0, width), rng.uniform(0.5, 1.0) * height, rng.uniform(0.03, 0.12) * width
        colour = rng.uniform(30, 220, 3).astype(np.float32)
        shade = 1 - 0.35 * np.clip((y - cy) / r, -1, 1)[..., None]
        mask = np.clip((r - np.sqrt((x - cx) ** 2 + (y - cy) ** 2)) / 4.0, 0, 1)[..., None]
        img = img * (1 - mask) + (colour * shade + 10 * texture) * mask
    img += rng.normal(0, 1.5, img.shape).astype(np.float32)  # sensor noise
    out = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    return out.filter(ImageFilter.GaussianBlur(0.7))  # lens softness


def photo_jpeg(seed: int = 0, width: int = 4000, height: int = 3000) -> bytes:
    buf = io.BytesIO()
    photo(width, height, seed).save(buf, "JPEG", quality=92, subsampling="4:2:0")
    return buf.getvalue()
