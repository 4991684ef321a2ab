import os
import random
import signal
import socket
import sys
from pathlib import Path

import pytest

APP = Path(__file__).with_name("instance_app.py")


def free_range(size: int = 30) -> int:
    """A base port with `size` free ports after it (random, so parallel runs rarely meet)."""
    for _ in range(200):
        base = random.randrange(20000, 45000)
        ok = True
        for port in range(base, base + size):
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free port range")


@pytest.fixture
def process_options(tmp_path):
    flags = tmp_path / "flags"
    flags.mkdir()
    return {
        "command": f"{sys.executable} {APP} {{port}} {flags}",
        "base_port": free_range(),
        "health_path": "/healthz",
        "health_timeout": 1.0,
        "stop_timeout": 5.0,
        "log_dir": str(tmp_path / "logs"),
        "upstream_file": str(tmp_path / "upstream-{group}.conf"),
    }


@pytest.fixture
def flags_dir(process_options):
    return Path(process_options["command"].split()[-1])


@pytest.fixture(autouse=True)
def _no_process_outlives_the_test():
    """Every instance a test started is stopped at teardown, whatever the test did
    (the backend keeps the Popen of each child it started in this process)."""
    from django.core.cache import cache

    from scaling.backends import process
    from scaling.metrics import PUSH_KEY

    cache.delete_many([PUSH_KEY.format(group=name) for name in ("web", "api", "workers", "k8s", "docker")])
    yield
    for pid, child in list(process._children.items()):
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            child.wait(timeout=5)
        except Exception:
            pass
        process._children.pop(pid, None)
