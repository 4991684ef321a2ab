"""Sending one queued notification (the body of the send task)."""
from __future__ import annotations

from django.utils import timezone

from .errors import NotificationDeliveryError
from .models import Notification
from .notify import deliver


def send_notification(*, notification_id: int, final_attempt: bool = False) -> str:
    """Deliver a queued notification once. Sent already: nothing happens (safe to redeliver).
    On failure the attempt is counted and NotificationDeliveryError re-raised for the retry,
    except on the final attempt, which marks it failed."""
    notification = Notification.objects.select_related("channel").get(pk=notification_id)
    if notification.status == Notification.Status.SENT:
        return notification.status
    notification.attempts += 1
    try:
        deliver(notification)
    except NotificationDeliveryError as exc:
        notification.error = str(exc)
        if final_attempt:
            notification.status = Notification.Status.FAILED
        notification.save(update_fields=["attempts", "error", "status"])
        if final_attempt:
            return notification.status
        raise
    notification.status, notification.sent_at, notification.error = Notification.Status.SENT, timezone.now(), ""
    notification.save(update_fields=["attempts", "status", "sent_at", "error"])
    return notification.status
