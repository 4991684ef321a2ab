#!/usr/bin/env python3
"""Set-up and launch with nothing but Python 3.11 and pip (standard library only).

    python3 config/bootstrap.py start   # the product on the embedded default
    python3 config/bootstrap.py test    # the test suite (extra arguments go to pytest)
    python3 config/bootstrap.py bench   # the benchmarks (names: see bench/run.py)

Both create `.venv` and install the project into it when pyproject.toml changed.
`start` keeps a generated SECRET_KEY in var/, so sessions and tokens survive restarts.
"""
from __future__ import annotations

import hashlib
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("VENV_DIR", ROOT / ".venv"))
PYTHON = VENV / "bin" / "python"


def ensure_venv(extras: str) -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"Python 3.11 or newer is needed, this is {sys.version.split()[0]}")
    stamp = VENV / f".installed-{extras or 'base'}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest and PYTHON.exists():
        return
    if not PYTHON.exists():
        print(f"[bootstrap] creating {VENV}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    target = f".[{extras}]" if extras else "."
    print(f"[bootstrap] installing {target} into {VENV}", flush=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-e", target], cwd=ROOT, check=True)
    stamp.write_text(digest)


def embedded_env() -> dict[str, str]:
    env = dict(os.environ)
    var = Path(env.get("VAR_DIR", ROOT / "var"))
    var.mkdir(parents=True, exist_ok=True)
    key_file = var / "secret_key"
    if "SECRET_KEY" not in env:
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(50))
            key_file.chmod(0o600)
        env["SECRET_KEY"] = key_file.read_text().strip()
    env.setdefault("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
    # Plain HTTP on this machine: no HTTPS redirect or secure-only cookies.
    env.setdefault("SECURE_HTTPS", "false")
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    return env


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"start", "test", "bench"}:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    os.chdir(ROOT)
    if command == "start":
        ensure_venv("")
        args = [str(PYTHON), "manage.py", "serve", "--prepare", *rest]
        os.execve(str(PYTHON), args, embedded_env())
    if command == "bench":
        ensure_venv("test,bench")
        os.execv(str(PYTHON), [str(PYTHON), "bench/run.py", *rest])
    ensure_venv("test")
    os.execv(str(PYTHON), [str(PYTHON), "-m", "pytest", *rest])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
