"""Under CI=true, a test that would skip for want of PostgreSQL fails instead."""
import os
import subprocess
import sys

from tests.support import ROOT

PROBE = """
import pytest
from tests.support import need_postgres

@pytest.mark.django_db
def test_needs_postgres():
    need_postgres()
"""


def _run(tmp_path, ci: str):
    (tmp_path / "test_probe.py").write_text(PROBE)
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CI"}}
    env.update({"CI": ci, "PYTHONPATH": str(ROOT), "VAR_DIR": str(tmp_path / "var")})
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c",
                           str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT), str(tmp_path / "test_probe.py")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_missing_postgres_skips_on_a_laptop(tmp_path):
    result = _run(tmp_path, "")
    assert result.returncode == 0 and "1 skipped" in result.stdout, result.stdout


def test_missing_postgres_fails_under_ci(tmp_path):
    result = _run(tmp_path, "true")
    assert result.returncode == 1 and "1 failed" in result.stdout, result.stdout
    assert "CI=true: a missing service is a failure" in result.stdout
