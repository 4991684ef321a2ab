import uuid

import pytest
from django.test import Client

from perfmon.buffer import get_buffer
from perfmon.recorder import get_recorder, reset_recorder
from tests.support import need_postgres, need_redis


def set_perfmon(settings, **overrides):
    """Change PERFMON for this test, including the settings that are live (read through
    perfmon.ops.live_settings, which snapshots them for a second)."""
    from perfmon.ops import live_settings

    settings.PERFMON = {**settings.PERFMON, **overrides}
    live_settings.bump_version()
    get_recorder().configure()


def _pipeline_settings(settings, **overrides):
    reset_recorder()
    set_perfmon(settings, FLUSH_THREAD=False, **overrides)
    return get_buffer()


@pytest.fixture
def redis_buffer(settings):
    """The Redis buffer under a key prefix of this test's own; no flusher thread."""
    url = need_redis()
    buffer = _pipeline_settings(settings, METRICS_BUFFER=url, METRICS_KEY_PREFIX=f"pmtest-{uuid.uuid4().hex[:10]}")
    yield buffer
    buffer.clear()
    reset_recorder()


@pytest.fixture
def db_buffer(settings):
    need_postgres()
    buffer = _pipeline_settings(settings, METRICS_BUFFER="database")
    yield buffer
    reset_recorder()


@pytest.fixture
def recorder():
    return get_recorder()


@pytest.fixture
def raw_client():
    """A client that gets the 500 response instead of the view's exception."""
    return Client(raise_request_exception=False)
