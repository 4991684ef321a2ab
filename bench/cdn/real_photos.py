"""Real photographs for the image benchmark, from Debian's wallpaper packages (the
registry this machine reaches): camera photographs of a forest path, moss, paper cups,
boats at dusk, autumn leaves, a pier in fog (plasma-workspace-wallpapers, 2560x1600),
a storm over a road, dune grass and rain drops on a leaf (mate-backgrounds, 1680 to
1920 px wide). They are about 2 to 4 megapixels, so they decide the bytes and SSIM
comparison between formats; the 12-megapixel timing uses photos.py's generated images.

`apt-get download` fetches the packages into bench/out/debian (no install, no root
needed beyond what apt-get download needs); the chosen files are extracted once.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "out" / "debian"
PHOTOS = {
    "plasma-workspace-wallpapers": [f"usr/share/wallpapers/{name}/contents/images/2560x1600.jpg" for name in
                                    ("Path", "OneStandsOut", "ColorfulCups", "EveningGlow", "FallenLeaf",
                                     "ColdRipple")],
    "mate-backgrounds": [f"usr/share/backgrounds/mate/nature/{name}.jpg" for name in ("Storm", "Dune", "RainDrops")],
}


def _name(member: str) -> str:
    parts = Path(member).parts
    return (parts[3] if "wallpapers" in parts else Path(member).stem) + ".jpg"


def real_photos() -> list[Path]:
    """The photographs' paths, downloading and extracting the packages on first use."""
    wanted = {package: [OUT / _name(m) for m in members] for package, members in PHOTOS.items()}
    for package, members in PHOTOS.items():
        if all(path.exists() for path in wanted[package]):
            continue
        if not shutil.which("apt-get") or not shutil.which("dpkg"):
            raise SystemExit(f"needs apt-get and dpkg to fetch {package} (Debian's real photographs)")
        OUT.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["apt-get", "download", package], cwd=tmp, check=True, capture_output=True)
            deb = next(Path(tmp).glob("*.deb"))
            subprocess.run(["dpkg", "-x", str(deb), str(Path(tmp) / "x")], check=True)
            for member in members:
                shutil.copyfile(Path(tmp) / "x" / member, OUT / _name(member))
    return [path for paths in wanted.values() for path in paths]
