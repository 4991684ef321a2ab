"""Video poster and metadata through ffprobe/ffmpeg, when they are on the machine."""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

NO_FFMPEG = ("ffmpeg/ffprobe are not installed on this machine: no poster image or video metadata "
             "(duration, size, codec) was produced. Install ffmpeg and re-optimize the asset.")


@dataclass(frozen=True)
class VideoInfo:
    metadata: dict = field(default_factory=dict)
    poster: bytes | None = None
    note: str = ""


def available() -> bool:
    return bool(shutil.which("ffprobe") and shutil.which("ffmpeg"))


def inspect_video(data: bytes, timeout: float = 60.0) -> VideoInfo:
    """Duration, size and codec from ffprobe and a JPEG poster from ffmpeg, or a note
    saying why not. Never raises for a missing tool; a video ffprobe cannot read is a note."""
    if not available():
        return VideoInfo(note=NO_FFMPEG)
    with tempfile.TemporaryDirectory(prefix="cdn-video-") as tmp:
        src = Path(tmp) / "input"
        src.write_bytes(data)
        probe = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
                                str(src)], capture_output=True, timeout=timeout)
        if probe.returncode != 0:
            return VideoInfo(note=f"ffprobe could not read the video: {probe.stderr.decode(errors='replace')[:300]}")
        info = json.loads(probe.stdout or b"{}")
        stream = next((s for s in info.get("streams", []) if s.get("codec_type") == "video"), {})
        metadata = {"duration": float(info.get("format", {}).get("duration") or 0.0),
                    "width": stream.get("width"), "height": stream.get("height"), "codec": stream.get("codec_name")}
        poster = Path(tmp) / "poster.jpg"
        at = min(1.0, metadata["duration"] / 2)
        run = subprocess.run(["ffmpeg", "-v", "error", "-ss", f"{at:.2f}", "-i", str(src), "-frames:v", "1",
                              "-q:v", "3", str(poster)], capture_output=True, timeout=timeout)
        if run.returncode != 0 or not poster.exists():
            return VideoInfo(metadata, None, f"ffmpeg could not extract a poster: {run.stderr.decode(errors='replace')[:300]}")
        return VideoInfo(metadata, poster.read_bytes())
