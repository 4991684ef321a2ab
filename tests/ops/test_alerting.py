"""Alert rules evaluated over real metrics: pending -> firing -> resolved, notifications,
repeats, silences, acknowledgement, no duplicates."""
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from perfmon.models import HostSample
from perfmon.ops import services
from perfmon.ops.alerting import evaluate_alert_rules
from perfmon.ops.delivery import send_notification
from perfmon.ops.models import Alert, AlertRule, Notification, NotificationChannel
from perfmon.ops.notify import dispatch_notifications
from perfmon.services import record_host_sample

pytestmark = pytest.mark.django_db


def cpu(value, at, host="web-1"):
    sample = record_host_sample(cpu_interval=0)
    HostSample.objects.filter(pk=sample.pk).update(cpu_percent=value, at=at, host=host)


@pytest.fixture
def rule():
    return AlertRule.objects.create(name="High CPU", metric="host.cpu_percent", aggregation="avg",
                                    window_seconds=120, comparison=">", threshold_setting="HIGH_CPU_THRESHOLD",
                                    for_seconds=60, severity="critical", labels={"team": "ops"})


def deliver_all():
    for notification in Notification.objects.filter(status="queued"):
        send_notification(notification_id=notification.pk)


def test_pending_then_firing_after_for_then_resolved(rule, receiver, django_capture_on_commit_callbacks):
    NotificationChannel.objects.create(name="hook", kind="webhook", target=receiver.url)
    t0 = timezone.now()
    cpu(95, t0 - timedelta(seconds=30))
    first = evaluate_alert_rules(now=t0)
    alert = Alert.objects.get()
    assert first.pending == [alert.pk] and alert.state == "pending" and alert.value == 95
    assert alert.labels == {"host": "web-1", "team": "ops", "alertname": "High CPU", "severity": "critical"}
    assert dispatch_notifications(now=t0) == []  # pending alerts are not announced

    cpu(90, t0 + timedelta(seconds=50))
    assert evaluate_alert_rules(now=t0 + timedelta(seconds=61)).fired == [alert.pk]
    alert.refresh_from_db()
    assert alert.state == "firing" and alert.fired_at == t0 + timedelta(seconds=61)
    dispatch_notifications(now=t0 + timedelta(seconds=61))
    deliver_all()
    assert len(receiver.bodies) == 1
    body = receiver.bodies[0]
    assert body["version"] == "4" and body["status"] == "firing"
    assert body["alerts"][0]["labels"]["alertname"] == "High CPU"

    # Below the threshold across the whole window: resolved, and announced once.
    cpu(10, t0 + timedelta(seconds=250))
    later = t0 + timedelta(seconds=260)
    assert evaluate_alert_rules(now=later).resolved == [alert.pk]
    dispatch_notifications(now=later)
    deliver_all()
    assert [b["status"] for b in receiver.bodies] == ["firing", "resolved"]
    assert dispatch_notifications(now=later + timedelta(hours=5)) == []
    alert.refresh_from_db()
    assert alert.state == "resolved" and alert.resolved_at == later


def test_a_cleared_pending_alert_leaves_nothing(rule):
    t0 = timezone.now()
    cpu(95, t0 - timedelta(seconds=10))
    evaluate_alert_rules(now=t0)
    assert Alert.objects.filter(state="pending").count() == 1
    cpu(5, t0 + timedelta(seconds=100))
    evaluate_alert_rules(now=t0 + timedelta(seconds=200))
    assert Alert.objects.count() == 0


def test_repeat_only_after_the_interval_and_never_once_acknowledged(rule, receiver, staff_user):
    services.update_settings(changes={"ALERT_REPEAT_INTERVAL": 600}, actor=staff_user)
    NotificationChannel.objects.create(name="slack", kind="slack", target=receiver.url)
    rule.for_seconds = 0
    rule.save()
    t0 = timezone.now()
    for minutes in range(0, 40, 1):
        cpu(99, t0 + timedelta(minutes=minutes) - timedelta(seconds=30))

    def tick(minutes):
        now = t0 + timedelta(minutes=minutes)
        evaluate_alert_rules(now=now)
        dispatch_notifications(now=now)
        deliver_all()

    tick(0)
    tick(5)
    assert len(receiver.bodies) == 1 and receiver.bodies[0]["text"].startswith("[FIRING] [critical] High CPU")
    tick(11)
    assert len(receiver.bodies) == 2  # repeated after the 10-minute interval
    services.acknowledge_alert(alert_id=Alert.objects.get().pk, actor=staff_user, reason="on it")
    tick(25)
    assert len(receiver.bodies) == 2


def test_a_silence_keeps_a_firing_alert_quiet_until_it_ends(rule, receiver, staff_user):
    NotificationChannel.objects.create(name="hook", kind="webhook", target=receiver.url)
    rule.for_seconds = 0
    rule.save()
    silence = services.create_silence(matchers={"alertname": "High CPU", "host": "web-1"},
                                      ends_at=timezone.now() + timedelta(hours=1), comment="maintenance",
                                      actor=staff_user)
    now = timezone.now()
    cpu(99, now - timedelta(seconds=5))
    evaluate_alert_rules(now=now)
    dispatch_notifications(now=now)
    deliver_all()
    assert receiver.bodies == []
    assert Alert.objects.get().silenced_by == silence
    services.expire_silence(silence_id=silence.pk, actor=staff_user)
    later = timezone.now() + timedelta(seconds=1)
    cpu(99, later - timedelta(seconds=5))
    evaluate_alert_rules(now=later)
    dispatch_notifications(now=later)
    deliver_all()
    assert len(receiver.bodies) == 1 and Alert.objects.get().silenced_by is None


def test_one_alert_per_rule_and_label_set_even_with_concurrent_evaluations(rule):
    rule.for_seconds = 0
    rule.save()
    now = timezone.now()
    cpu(99, now - timedelta(seconds=5), host="a")
    cpu(98, now - timedelta(seconds=5), host="b")
    for _ in range(3):
        evaluate_alert_rules(now=now)
    assert sorted(Alert.objects.values_list("labels__host", flat=True)) == ["a", "b"]


@pytest.mark.django_db(transaction=True)
def test_two_evaluators_at_once_open_one_alert_per_label_set():
    rule = AlertRule.objects.create(name="Hot", metric="host.cpu_percent", window_seconds=120, threshold=50,
                                    for_seconds=0)
    now = timezone.now()
    cpu(99, now - timedelta(seconds=5))
    barrier = threading.Barrier(4)

    def evaluate():
        barrier.wait()
        try:
            evaluate_alert_rules(now=now)
        finally:
            connection.close()

    threads = [threading.Thread(target=evaluate) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Alert.objects.filter(rule=rule).count() == 1


def test_failed_delivery_is_retried_then_marked(rule, settings):
    from tests.ops.conftest import Receiver

    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    flaky = Receiver(fail_first=1)
    try:
        NotificationChannel.objects.create(name="flaky", kind="webhook", target=flaky.url)
        rule.for_seconds = 0
        rule.save()
        now = timezone.now()
        cpu(99, now - timedelta(seconds=5))
        evaluate_alert_rules(now=now)
        [notification_id] = dispatch_notifications(now=now)
        from perfmon.ops.errors import NotificationDeliveryError

        with pytest.raises(NotificationDeliveryError, match="503"):
            send_notification(notification_id=notification_id)
        assert send_notification(notification_id=notification_id) == "sent"
        assert send_notification(notification_id=notification_id) == "sent"  # redelivered: not sent twice
        assert len(flaky.bodies) == 1
        assert Notification.objects.get().attempts == 2
    finally:
        flaky.close()


def test_email_notification(rule, settings, mailoutbox):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    NotificationChannel.objects.create(name="mail", kind="email", target="ops@example.com", min_severity="critical")
    rule.for_seconds = 0
    rule.save()
    now = timezone.now()
    cpu(99, now - timedelta(seconds=5))
    evaluate_alert_rules(now=now)
    dispatch_notifications(now=now)
    deliver_all()
    assert len(mailoutbox) == 1
    assert mailoutbox[0].subject == "[FIRING:1] High CPU" and mailoutbox[0].to == ["ops@example.com"]


def test_a_rule_on_an_unknown_metric_reports_its_error(rule):
    broken = AlertRule.objects.create(name="Broken", metric="no.such.metric", threshold=1)
    result = evaluate_alert_rules()
    broken.refresh_from_db()
    assert "no metric named 'no.such.metric'" in broken.last_error
    assert "Broken" in result.errors and result.rules == 2
