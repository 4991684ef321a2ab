"""What the gunicorn and valgrind benches need before they start."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def prepare(tool: str, package: str, env: dict[str, str]) -> None:
    """Stop with a message when `tool` or the services are missing; migrate the bench
    database with the bare stack's environment `env`."""
    if not shutil.which(tool):
        raise SystemExit(f"needs {tool}: apt-get install {package}")
    for var in ("DATABASE_URL", "REDIS_URL"):
        if not os.environ.get(var):
            raise SystemExit(f"set {var}")
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True, env=env)
