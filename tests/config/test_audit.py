"""The audit record every action writes, and the first action that uses it."""
from datetime import timedelta

import pytest
from django.utils import timezone

from perfmon.audit import audited
from perfmon.errors import ActionError
from perfmon.models import AuditRecord, HostSample
from perfmon.services import prune_metrics, record_host_sample

pytestmark = pytest.mark.django_db


def test_audited_records_who_what_why_and_the_result(staff_user):
    with audited("test.do_thing", actor=staff_user, reason="because", target="thing-1",
                 before={"n": 1}) as audit:
        audit.set_after(n=2)
    record = AuditRecord.objects.get()
    assert (record.action, record.actor, record.actor_label, record.reason, record.target) == (
        "test.do_thing", staff_user, "staff", "because", "thing-1")
    assert record.before == {"n": 1} and record.after == {"n": 2}
    assert record.result == "ok" and record.finished_at is not None


def test_a_failed_action_is_recorded_with_its_error():
    with pytest.raises(ActionError):
        with audited("test.fail", actor="manage.py"):
            raise ActionError("the backend refused")
    record = AuditRecord.objects.get()
    assert record.result == "failed" and record.error == "the backend refused"
    assert record.actor is None and record.actor_label == "manage.py"


def test_an_idempotency_key_is_used_once():
    with audited("test.once", actor="system", idempotency_key="k-1"):
        pass
    with pytest.raises(ActionError) as exc:
        with audited("test.once", actor="system", idempotency_key="k-1"):
            raise AssertionError("must not run twice")
    assert exc.value.code == "duplicate" and exc.value.status_code == 409
    assert exc.value.record == AuditRecord.objects.get()


def test_prune_metrics_deletes_only_old_samples_and_a_second_run_is_a_noop():
    old = record_host_sample(cpu_interval=0)
    HostSample.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=30))
    fresh = record_host_sample(cpu_interval=0)
    assert prune_metrics(actor="test", host_sample_days=7).host_samples_deleted == 1
    assert list(HostSample.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert prune_metrics(actor="test", host_sample_days=7).host_samples_deleted == 0
    results = list(AuditRecord.objects.filter(action="perfmon.prune_metrics").order_by("id")
                   .values_list("result", flat=True))
    assert results == ["ok", "noop"]


@pytest.mark.django_db(transaction=True)
def test_every_finished_action_is_published_on_the_event_channel():
    from tests.support import need_redis

    url = need_redis()
    import json

    import redis

    from perfmon.events import channel

    pubsub = redis.Redis.from_url(url).pubsub()
    pubsub.subscribe(channel())
    pubsub.get_message(timeout=1)  # the subscribe confirmation
    with audited("test.announce", actor="system", target="t-1") as audit:
        audit.set_after(done=True)
    events = []
    for _ in range(50):  # the channel is shared: skip other processes' events
        message = pubsub.get_message(timeout=2)
        if message is None:
            break
        events.append(json.loads(message["data"]))
        if events[-1]["type"] == "test.announce":
            break
    pubsub.close()
    event = events[-1]
    assert event["type"] == "test.announce"
    assert event["data"]["result"] == "ok" and event["data"]["after"] == {"done": True}
