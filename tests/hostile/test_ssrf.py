"""SSRF: alert webhooks may not reach internal addresses however the address is spelt,
nor be redirected there; CDN purge requests go only to the configured purge host
whatever paths a caller sends."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from perfmon.ops.errors import NotificationDeliveryError
from perfmon.ops.models import AlertRule, Notification, NotificationChannel
from perfmon.ops.notify import deliver, validate_webhook_url

SPELLINGS = [
    "http://2130706433/hook",              # 127.0.0.1 as one decimal number
    "http://0x7f000001/hook",              # ... in hex
    "http://0177.0.0.1/hook",              # ... in octal
    "http://127.1/hook",                   # ... shortened
    "http://[::ffff:127.0.0.1]/hook",      # ... IPv4-mapped IPv6
    "http://[::ffff:a9fe:a9fe]/latest",    # 169.254.169.254 (cloud metadata) mapped
    "http://0/hook",
    "http://hooks.example.com@127.0.0.1:6379/",  # user-info trick: the host is 127.0.0.1
    "http://localhost.:8000/",             # trailing-dot host name
    "http://[fd00::1]/hook",               # IPv6 unique-local
    "http://100.64.0.1/hook",              # carrier-grade NAT (shared address space)
]


@pytest.mark.parametrize("url", SPELLINGS)
def test_internal_addresses_are_refused_however_spelt(url):
    with pytest.raises(ValueError, match="internal address|cannot be resolved"):
        validate_webhook_url(url)


class _Recorder(BaseHTTPRequestHandler):
    def _answer(self):
        self.server.seen.append((self.command, self.path))
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.server.redirect_to:
            self.send_response(302)
            self.send_header("Location", self.server.redirect_to)
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PURGE = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    servers = []

    def start(host="127.0.0.1", redirect_to=""):
        server = ThreadingHTTPServer((host, 0), _Recorder)
        server.seen, server.redirect_to = [], redirect_to
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server, f"http://{host}:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.django_db
def test_a_webhook_redirect_to_an_internal_address_is_not_followed(settings, http_server):
    internal, internal_url = http_server("127.0.0.2")
    allowed, allowed_url = http_server("127.0.0.1", redirect_to=internal_url + "/latest/meta-data")
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # the hook host is allowed, 127.0.0.2 is not
    channel = NotificationChannel.objects.create(name="hook", kind="webhook", target=allowed_url + "/hook")
    notification = Notification.objects.create(channel=channel, payload={"text": "x"})
    with pytest.raises(NotificationDeliveryError, match="302"):
        deliver(notification)
    assert allowed.seen == [("POST", "/hook")]
    assert internal.seen == []


@pytest.mark.django_db
def test_the_admin_refuses_an_internal_webhook_and_saves_nothing(staff_user, client):
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    url = reverse("admin:ops_notificationchannel_add")
    response = client.post(url, {"name": "meta", "kind": "webhook", "target": "http://169.254.169.254/latest",
                                 "min_severity": AlertRule.Severity.WARNING, "send_resolved": "on",
                                 "enabled": "on"})
    assert response.status_code == 200
    assert "internal address" in response.content.decode()
    assert not NotificationChannel.objects.exists()


@pytest.mark.django_db
def test_cdn_purge_requests_only_reach_the_purge_host_whatever_the_paths(settings, staff_client, http_server):
    purge, purge_url = http_server("127.0.0.1")
    internal, internal_url = http_server("127.0.0.2")
    internal_hostport = internal_url.split("//")[1]
    settings.CDN = {**settings.CDN, "BACKENDS": {"default": {
        "BACKEND": "cdn.backends.http_purge.HttpPurgeBackend", "OPTIONS": {"purge_url": purge_url}}}}
    hostile = [f"@{internal_hostport}/x", f"//{internal_hostport}/y", f"\\\\{internal_hostport}/z",
               f"#@{internal_hostport}/w", f"?@{internal_hostport}/v"]
    response = staff_client.post("/api/performance/cdn/invalidate", json.dumps({"paths": hostile, "wait": True}),
                                 content_type="application/json")
    assert response.status_code == 200, response.content
    assert internal.seen == []
    assert len(purge.seen) == len(hostile) and all(method == "PURGE" for method, _ in purge.seen)
    # `#` and `?` are encoded: each request names its own path, never the root by truncation.
    assert all(path not in ("/", "") and "#" not in path and "?" not in path for _, path in purge.seen)
