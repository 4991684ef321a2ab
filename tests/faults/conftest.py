import sys
import tempfile

from tests.support import ROOT, Process, free_port, http_get, wait_until


def start_api_web(tmp_path, env: dict[str, str], workers: int = 1) -> tuple[Process, str]:
    """gunicorn with production settings, like tests.support.start_web, minus collectstatic
    (tens of seconds): these tests call the API and probes, which render no static URLs."""
    env = {"STATIC_ROOT": tempfile.mkdtemp(prefix="cp-faults-static-"), **env}
    port = free_port()
    proc = Process([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "config" / "gunicorn.py"),
                    "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "config.wsgi:application"],
                   env, tmp_path / f"web-{port}.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_get(base + "/healthz")[0] == 200, 30, message=f"web server on {port}")
    except AssertionError:
        proc.stop()
        raise AssertionError(proc.output()[-3000:])
    return proc, base
