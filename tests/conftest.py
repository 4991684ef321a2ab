import pytest

from tests.support import IN_CI


def pytest_report_header(config):
    from django.conf import settings

    db = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    return [f"database: {db}; redis: {settings.REDIS_URL or 'off'}; broker: {settings.CELERY_BROKER_URL.split(':')[0]};"
            f" CI={IN_CI}"]


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user("staff", password="pw-staff-123", is_staff=True)


@pytest.fixture
def plain_user(django_user_model):
    return django_user_model.objects.create_user("viewer", password="pw-viewer-123")


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def viewer_client(client, plain_user):
    client.force_login(plain_user)
    return client


@pytest.fixture(autouse=True)
def _fresh_live_settings():
    """Each test starts from the live settings its own database holds (a rolled-back test
    must not leave its values in this process's snapshot)."""
    from perfmon.ops import live_settings

    live_settings._snapshot.invalidate()
    yield
    live_settings._snapshot.invalidate()
