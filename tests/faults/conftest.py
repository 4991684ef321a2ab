from tests.support import Process, start_web


def start_api_web(tmp_path, env: dict[str, str], workers: int = 1) -> tuple[Process, str]:
    """gunicorn for the fault tests: the API and probes only, so no collectstatic."""
    return start_web(tmp_path, env, workers, static=False)
