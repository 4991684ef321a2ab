"""Notifications: group what changed into one message per channel, deliver with retries.

Delivery is a Celery task per message (retried with backoff); repeats of a firing
alert go out every ALERT_REPEAT_INTERVAL until it resolves or is acknowledged;
silenced alerts are not sent. Webhook URLs must not point at loopback, private,
link-local or otherwise internal addresses unless WEBHOOK_ALLOWED_NETWORKS allows
them, checked when the channel is saved and again right before each delivery.
"""
from __future__ import annotations

import ipaddress
import json
import socket
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import live_settings
from .errors import NotificationDeliveryError
from .models import Alert, Notification, NotificationChannel, Silence

SEVERITY_ORDER = {"info": 0, "warning": 1, "critical": 2}
TIMEOUT_SECONDS = 5


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect could lead to an address we would refuse


_opener = urllib.request.build_opener(_NoRedirect)


def _allowed_networks() -> list[ipaddress._BaseNetwork]:
    return [ipaddress.ip_network(n, strict=False) for n in getattr(settings, "WEBHOOK_ALLOWED_NETWORKS", [])]


def validate_webhook_url(url: str) -> str:
    """The URL if it is safe to call, else ValueError saying why."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("has no host name")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, ValueError) as exc:
        raise ValueError(f"host {parts.hostname!r} cannot be resolved ({exc})") from None
    allowed = _allowed_networks()
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        # not is_global also covers 100.64.0.0/10 (carrier-grade NAT; some clouds' metadata
        # services live there), which is_private does not.
        internal = (not address.is_global or address.is_private or address.is_loopback or address.is_link_local
                    or address.is_multicast or address.is_reserved or address.is_unspecified)
        if internal and not any(address in network for network in allowed):
            raise ValueError(f"resolves to {address}, an internal address; webhooks may only call public "
                             "addresses unless WEBHOOK_ALLOWED_NETWORKS allows it")
    return url.strip()


def validate_emails(target: str) -> list[str]:
    from django.core.validators import validate_email

    addresses = [a.strip() for a in target.split(",") if a.strip()]
    if not addresses:
        raise ValueError("needs at least one e-mail address")
    for address in addresses:
        try:
            validate_email(address)
        except Exception:
            raise ValueError(f"{address!r} is not an e-mail address") from None
    return addresses


def validate_target(kind: str, target: str) -> str:
    if kind == NotificationChannel.Kind.EMAIL:
        return ", ".join(validate_emails(target))
    return validate_webhook_url(target)


def active_silence(alert: Alert, now: datetime, silences: list[Silence]) -> Silence | None:
    return next((s for s in silences if s.starts_at <= now < s.ends_at and s.matches(alert.labels)), None)


def dispatch_notifications(*, now: datetime | None = None) -> list[int]:
    """Queue one grouped notification per channel for alerts that fired, resolved, or
    are due a repeat. Returns the ids of the notifications queued."""
    now = now or timezone.now()
    repeat = timedelta(seconds=int(live_settings.get("ALERT_REPEAT_INTERVAL")))
    silences = list(Silence.objects.filter(starts_at__lte=now, ends_at__gt=now))
    due_firing, due_resolved = [], []
    candidates = Alert.objects.select_related("rule").filter(
        Q(state=Alert.State.FIRING) | Q(state=Alert.State.RESOLVED, notified_state=Alert.State.FIRING))
    for alert in candidates:
        silence = active_silence(alert, now, silences)
        if alert.silenced_by_id != (silence.pk if silence else None):
            alert.silenced_by = silence
            alert.save(update_fields=["silenced_by"])
        if alert.state == Alert.State.RESOLVED:
            due_resolved.append(alert)
        elif silence is None and (alert.notified_state != Alert.State.FIRING or (
                alert.acknowledged_at is None and alert.last_notified_at and now - alert.last_notified_at >= repeat)):
            due_firing.append(alert)
    queued: list[int] = []
    for channel in NotificationChannel.objects.filter(enabled=True):
        floor = SEVERITY_ORDER[channel.min_severity]
        firing = [a for a in due_firing if SEVERITY_ORDER[a.severity] >= floor]
        resolved = [a for a in due_resolved if SEVERITY_ORDER[a.severity] >= floor and channel.send_resolved]
        if firing or resolved:
            queued.append(_queue(channel, firing, resolved))
    for alert in due_firing:
        alert.notified_state, alert.last_notified_at = Alert.State.FIRING, now
        alert.save(update_fields=["notified_state", "last_notified_at"])
    for alert in due_resolved:
        alert.notified_state, alert.last_notified_at = Alert.State.RESOLVED, now
        alert.save(update_fields=["notified_state", "last_notified_at"])
    return queued


def _queue(channel: NotificationChannel, firing: list[Alert], resolved: list[Alert]) -> int:
    from .tasks import send_notification_task

    payload = build_payload(channel, firing, resolved)
    notification = Notification.objects.create(channel=channel, payload=payload)
    notification.alerts.set(firing + resolved)
    transaction.on_commit(lambda: send_notification_task.delay(notification.pk))
    return notification.pk


def _alert_json(alert: Alert) -> dict:
    return {"status": "firing" if alert.state == Alert.State.FIRING else "resolved", "labels": alert.labels,
            "annotations": {"summary": alert.rule.summary or alert.rule.name, "value": f"{alert.value:g}",
                            "threshold": f"{alert.threshold:g}"},
            "startsAt": (alert.fired_at or alert.started_at).isoformat(),
            "endsAt": alert.resolved_at.isoformat() if alert.resolved_at else "0001-01-01T00:00:00Z",
            "fingerprint": alert.fingerprint}


def _line(alert: Alert) -> str:
    state = "FIRING" if alert.state == Alert.State.FIRING else "RESOLVED"
    where = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()) if k not in {"alertname", "severity"})
    return (f"[{state}] [{alert.severity}] {alert.rule.name}{' (' + where + ')' if where else ''}: "
            f"{alert.rule.metric} is {alert.value:g} ({alert.rule.comparison} {alert.threshold:g})")


def build_payload(channel: NotificationChannel, firing: list[Alert], resolved: list[Alert]) -> dict:
    alerts = firing + resolved
    if channel.kind == NotificationChannel.Kind.SLACK:
        return {"text": "\n".join(_line(a) for a in alerts)}
    if channel.kind == NotificationChannel.Kind.EMAIL:
        subject = f"[{'FIRING' if firing else 'RESOLVED'}:{len(alerts)}] " + ", ".join(
            sorted({a.rule.name for a in alerts}))
        return {"subject": subject[:200], "body": "\n".join(_line(a) for a in alerts)}
    return {"version": "4", "status": "firing" if firing else "resolved", "receiver": channel.name,
            "groupLabels": {}, "commonLabels": _common_labels(alerts), "alerts": [_alert_json(a) for a in alerts]}


def _common_labels(alerts: list[Alert]) -> dict:
    common = dict(alerts[0].labels)
    for alert in alerts[1:]:
        common = {k: v for k, v in common.items() if alert.labels.get(k) == v}
    return common


def deliver(notification: Notification) -> None:
    """Send one notification. Raises NotificationDeliveryError when it should be retried."""
    channel = notification.channel
    if channel.kind == NotificationChannel.Kind.EMAIL:
        try:
            send_mail(notification.payload["subject"], notification.payload["body"], None,
                      validate_emails(channel.target), fail_silently=False)
        except (OSError, ValueError) as exc:
            raise NotificationDeliveryError(f"e-mail to {channel.target}: {exc}") from exc
        return
    try:
        url = validate_webhook_url(channel.target)
    except ValueError as exc:
        raise NotificationDeliveryError(f"webhook URL refused: {exc}") from exc
    body = json.dumps(notification.payload).encode()
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json",
                                              "User-Agent": "controlplane-alerts/1"})
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            if not 200 <= response.status < 300:
                raise NotificationDeliveryError(f"webhook answered {response.status}")
    except urllib.error.HTTPError as exc:
        raise NotificationDeliveryError(f"webhook answered {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise NotificationDeliveryError(f"webhook unreachable: {exc}") from exc
