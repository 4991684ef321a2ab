"""An alert from real requests: middleware -> Redis buffer -> minute rollup -> registry ->
rule -> firing -> webhook, then resolved once traffic is fast again."""
from datetime import timedelta

import pytest
from django.utils import timezone

from perfmon.ops.alerting import evaluate_alert_rules
from perfmon.ops.delivery import send_notification
from perfmon.ops.models import Alert, AlertRule, Notification, NotificationChannel
from perfmon.ops.notify import dispatch_notifications
from perfmon.rollup import rollup_minutes
from tests.perfmon.conftest import recorder, redis_buffer  # noqa: F401  (fixtures)
from tests.support import need_postgres

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.perfmon.urls")]


def test_slow_requests_fire_an_alert_that_reaches_the_webhook(redis_buffer, recorder, client, receiver):  # noqa: F811
    need_postgres()  # the slow view sleeps in PostgreSQL
    NotificationChannel.objects.create(name="hook", kind="webhook", target=receiver.url)
    AlertRule.objects.create(name="Slow route", metric="http.latency_ms", aggregation="avg", window_seconds=600,
                             comparison=">", threshold=30, for_seconds=0, severity="critical")
    for _ in range(4):
        assert client.get("/t/slow").status_code == 200  # 50 ms in pg_sleep each
    assert recorder.flush()
    later = timezone.now() + timedelta(minutes=2)
    assert rollup_minutes(now=later).parts_applied >= 1

    result = evaluate_alert_rules(now=later)
    alert = Alert.objects.get()
    assert result.fired == [alert.pk] and alert.labels["route"] == "/t/slow" and alert.value >= 50
    dispatch_notifications(now=later)
    for notification in Notification.objects.all():
        send_notification(notification_id=notification.pk)
    assert [b["alerts"][0]["labels"]["route"] for b in receiver.bodies] == ["/t/slow"]

    # Ten minutes on, the window holds no slow requests: resolved, and announced once.
    much_later = later + timedelta(minutes=11)
    assert evaluate_alert_rules(now=much_later).resolved == [alert.pk]
    dispatch_notifications(now=much_later)
    for notification in Notification.objects.filter(status="queued"):
        send_notification(notification_id=notification.pk)
    assert [b["status"] for b in receiver.bodies] == ["firing", "resolved"]
