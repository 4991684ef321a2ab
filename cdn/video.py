"""Video poster and metadata through ffmpeg, when the machine has it.

The binary is CDN FFMPEG_BINARY: "auto" finds `ffmpeg` on PATH, else the one the
imageio-ffmpeg wheel ships; "" turns video processing off; anything else is a path.
Metadata (duration, size, codec) is read from `ffmpeg -i` (ffprobe is not needed)."""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .conf import cdn_settings

NO_FFMPEG = ("ffmpeg is not available on this machine (CDN FFMPEG_BINARY={setting!r}): no poster image or video "
             "metadata (duration, size, codec) was produced. Install ffmpeg and re-optimize the asset.")
_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
_STREAM = re.compile(r"Stream #\d+:\d+[^:]*: Video: (\w+)[^\n]*?, (\d{2,5})x(\d{2,5})")


@dataclass(frozen=True)
class VideoInfo:
    metadata: dict = field(default_factory=dict)
    poster: bytes | None = None
    note: str = ""


def ffmpeg_binary() -> str | None:
    setting = cdn_settings.FFMPEG_BINARY
    if not setting:
        return None
    if setting != "auto":
        return setting if Path(setting).is_file() else None
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        return None


def parse_ffmpeg_info(stderr: str) -> dict:
    """Duration (s), width, height and codec from `ffmpeg -i` output."""
    meta: dict = {}
    if m := _DURATION.search(stderr):
        meta["duration"] = round(int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]), 3)
    if m := _STREAM.search(stderr):
        meta.update(codec=m[1], width=int(m[2]), height=int(m[3]))
    return meta


def inspect_video(data: bytes, timeout: float = 60.0) -> VideoInfo:
    """Metadata and a JPEG poster (the frame at 1 s, or mid-video if shorter), or a
    note saying why not. Never raises for a missing tool or an unreadable video."""
    exe = ffmpeg_binary()
    if not exe:
        return VideoInfo(note=NO_FFMPEG.format(setting=cdn_settings.FFMPEG_BINARY))
    with tempfile.TemporaryDirectory(prefix="cdn-video-") as tmp:
        src = Path(tmp) / "input"
        src.write_bytes(data)
        probe = subprocess.run([exe, "-hide_banner", "-i", str(src)], capture_output=True, timeout=timeout)
        metadata = parse_ffmpeg_info(probe.stderr.decode(errors="replace"))
        if "codec" not in metadata:
            return VideoInfo(metadata, None, "ffmpeg found no video stream it can read: no poster was made.")
        poster = Path(tmp) / "poster.jpg"
        at = min(1.0, metadata.get("duration", 0.0) / 2)
        run = subprocess.run([exe, "-v", "error", "-ss", f"{at:.2f}", "-i", str(src), "-frames:v", "1",
                              "-q:v", "3", "-y", str(poster)], capture_output=True, timeout=timeout)
        if run.returncode != 0 or not poster.exists():
            return VideoInfo(metadata, None, f"ffmpeg could not extract a poster: "
                                             f"{run.stderr.decode(errors='replace')[:300]}")
        return VideoInfo(metadata, poster.read_bytes())
