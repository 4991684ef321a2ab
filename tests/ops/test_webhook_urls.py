"""Webhook URLs may not point inside the network (SSRF)."""
import pytest

from perfmon.ops import services
from perfmon.ops.errors import OpsError
from perfmon.ops.models import NotificationChannel
from perfmon.ops.notify import validate_webhook_url


@pytest.mark.parametrize("url,why", [
    ("http://127.0.0.1:8000/hook", "internal address"),
    ("http://localhost/hook", "internal address"),
    ("http://10.1.2.3/hook", "internal address"),
    ("http://192.168.0.10/hook", "internal address"),
    ("http://169.254.169.254/latest/meta-data", "internal address"),
    ("http://[::1]/hook", "internal address"),
    ("http://0.0.0.0/hook", "internal address"),
    ("ftp://example.com/hook", "http:// or https://"),
    ("http:///nohost", "no host"),
])
def test_internal_or_malformed_urls_are_refused(url, why):
    with pytest.raises(ValueError, match=why):
        validate_webhook_url(url)


def test_public_addresses_pass_and_allowed_networks_open_internal_ones(settings):
    assert validate_webhook_url("https://93.184.216.34/hooks/abc") == "https://93.184.216.34/hooks/abc"
    settings.WEBHOOK_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert validate_webhook_url("http://10.1.2.3/hook")
    with pytest.raises(ValueError):
        validate_webhook_url("http://127.0.0.1/hook")


@pytest.mark.django_db
def test_saving_a_channel_with_an_internal_url_changes_nothing(staff_user):
    services.save_notification_channel(name="ops", kind="slack", target="https://93.184.216.34/x", actor=staff_user)
    with pytest.raises(OpsError) as exc:
        services.save_notification_channel(name="ops", kind="slack", target="http://169.254.169.254/",
                                           actor=staff_user)
    assert "target" in exc.value.fields
    assert NotificationChannel.objects.get().target == "https://93.184.216.34/x"
