"""The local-process backend and the tick, for real: processes start, answer, die and stop."""
import os
import signal
import sys
import threading

import psutil
import pytest

from perfmon.errors import ActionError
from perfmon.locks import get_lease
from perfmon.models import AuditRecord
from scaling import services
from scaling.errors import BackendError, OutOfBounds, UnknownGroup
from scaling.models import Instance, ScalingEvent, ScalingGroup
from tests.support import http_get, need_redis, wait_until

pytestmark = pytest.mark.integration
State = Instance.State


def make_group(options, name="web", lo=1, hi=4, **fields):
    group = services.create_group(name=name, actor="test", reason="test", min_instances=lo, max_instances=hi,
                                  backend_options=options,
                                  policies=[("target", "request_rate", {"target": 600})], warmup_seconds=5)
    defaults = {"scale_down_stabilization_seconds": 0, "scale_down_cooldown_seconds": 0}
    ScalingGroup.objects.filter(pk=group.pk).update(**{**defaults, **fields})
    group.refresh_from_db()
    return group


def tick_until_ready(group, count, timeout=20):
    def ready():
        services.autoscale_tick(group=group.name)
        return group.instances.filter(state=State.READY).count() == count
    wait_until(ready, timeout, interval=0.2, message=f"{count} ready instances")


def pids(group):
    return [i.meta["pid"] for i in group.instances.exclude(state=State.STOPPED)]


def alive(pid):
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.django_db
def test_instances_come_and_go_with_the_load(process_options, tmp_path):
    need_redis()
    group = make_group(process_options)
    tick_until_ready(group, 1)
    first = group.instances.get(state=State.READY)
    assert http_get(f"http://{first.address}/healthz")[0] == 200

    services.report_metrics(group="web", values={"request_rate": 2400})
    result = services.autoscale_tick(group="web")[0]
    assert result.decision["desired"] == 4, result
    tick_until_ready(group, 4)
    group.refresh_from_db()
    assert group.desired_instances == 4
    up = ScalingEvent.objects.get(group=group, kind="autoscale", to_instances=4)
    assert up.from_instances == 1 and up.actor_label == "autoscaler" and up.metrics["request_rate"] == 2400
    assert "request_rate" in up.reason and up.decision["proposals"][0]["desired"] == 4
    for inst in group.instances.filter(state=State.READY):
        assert http_get(f"http://{inst.address}/healthz")[0] == 200
    upstream = (tmp_path / "upstream-web.conf").read_text()
    assert upstream.count("server 127.0.0.1:") == 4 and "upstream web {" in upstream and "weight=" in upstream
    assert AuditRecord.objects.filter(action="scaling.autoscale", target="web", result="ok").count() == 1

    before = pids(group)
    services.report_metrics(group="web", values={"request_rate": 500})
    services.autoscale_tick(group="web")
    group.refresh_from_db()
    assert group.desired_instances == 1
    stopped = [pid for pid in before if not alive(pid)]
    assert len(stopped) == 3 and alive(first.meta["pid"])   # the highest slots go first
    assert ScalingEvent.objects.filter(group=group, kind="autoscale", from_instances=4, to_instances=1).exists()
    assert (tmp_path / "upstream-web.conf").read_text().count("server 127.0.0.1:") == 1
    # each tick's reading is in perfmon's metric registry, by group
    from datetime import timedelta

    from django.utils import timezone

    from perfmon.registry import Query, read
    seen = read("scaling.request_rate", Query(timezone.now() + timedelta(seconds=1), timedelta(hours=1), "max"))
    assert seen[0].labels == {"group": "web"} and seen[0].value == 2400


@pytest.mark.django_db
def test_a_killed_instance_is_replaced_and_the_group_never_drops_below_min(process_options):
    need_redis()
    group = make_group(process_options, lo=2)
    tick_until_ready(group, 2)
    victim = group.instances.filter(state=State.READY).first()
    os.killpg(victim.meta["pid"], signal.SIGKILL)
    wait_until(lambda: not alive(victim.meta["pid"]) or psutil.Process(victim.meta["pid"]).status() == "zombie",
               5, message="the instance to die")
    services.autoscale_tick(group="web")
    victim.refresh_from_db()
    assert victim.state == State.STOPPED
    assert group.instances.filter(state__in=[State.STARTING, State.READY]).count() == 2
    event = ScalingEvent.objects.get(group=group, kind="health", reason__contains=victim.instance_id)
    assert victim.instance_id in event.reason and "died" in event.reason and event.actor_label == "health"
    tick_until_ready(group, 2)


@pytest.mark.django_db
def test_unhealthy_instance_is_replaced_before_it_is_stopped(process_options, flags_dir):
    need_redis()
    group = make_group(process_options, lo=1)
    tick_until_ready(group, 1)
    sick = group.instances.get(state=State.READY)
    (flags_dir / f"{sick.meta['port']}.sick").write_text("x")
    services.autoscale_tick(group="web")   # first failure
    services.autoscale_tick(group="web")   # second failure: unhealthy, replacement started
    sick.refresh_from_db()
    assert sick.state == State.UNHEALTHY and alive(sick.meta["pid"])   # kept while no other is ready
    tick_until_ready(group, 1)
    sick.refresh_from_db()
    assert sick.state == State.STOPPED and not alive(sick.meta["pid"])
    assert ScalingEvent.objects.filter(group=group, kind="health", reason__contains="unhealthy").exists()


@pytest.mark.django_db(transaction=True)
def test_two_ticks_at_once_scale_the_group_once(process_options):
    need_redis()
    group = make_group(process_options)
    tick_until_ready(group, 1)
    services.report_metrics(group="web", values={"request_rate": 1800})
    barrier = threading.Barrier(2)
    results = []

    def tick():
        from django.db import connection

        barrier.wait()
        try:
            results.extend(services.autoscale_tick(group="web"))
        finally:
            connection.close()

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 2
    assert ScalingEvent.objects.filter(group=group, kind="autoscale").count() == 1
    group.refresh_from_db()
    assert group.desired_instances == 3
    assert group.instances.exclude(state=State.STOPPED).count() == 3


@pytest.mark.django_db
def test_a_tick_skips_a_group_whose_lease_is_held(process_options):
    need_redis()
    group = make_group(process_options)
    lease = get_lease("scaling-group-web", 30)
    assert lease.acquire()
    try:
        result = services.autoscale_tick(group="web")[0]
    finally:
        lease.release()
    assert not result.ran and "lease" in result.detail
    assert not group.instances.exists()


@pytest.mark.django_db
def test_manual_scale_is_audited_and_safe_twice(process_options, staff_user):
    need_redis()
    group = make_group(process_options)
    first = services.scale_group(group="web", instances=3, actor=staff_user, reason="launch")
    assert first.result == "ok" and first.reached_instances == 3
    second = services.scale_group(group="web", instances=3, actor=staff_user, reason="launch")
    assert second.result == "noop"
    assert group.instances.exclude(state=State.STOPPED).count() == 3
    records = AuditRecord.objects.filter(action="scaling.scale_group").order_by("id")
    assert [r.result for r in records] == ["ok", "noop"] and records[0].actor == staff_user
    event = ScalingEvent.objects.get(pk=first.event_id)
    assert event.kind == "manual" and event.actor == staff_user and event.reason == "launch"
    # The manual size holds the autoscaler off: with no load it recommends 1, but
    # the group's stabilization window (here 300 s) remembers the manual 3.
    ScalingGroup.objects.filter(pk=group.pk).update(scale_down_stabilization_seconds=300)
    tick_until_ready(group, 3)
    services.report_metrics(group="web", values={"request_rate": 0})
    result = services.autoscale_tick(group="web")[0]
    assert result.decision["recommendation"] == 1 and result.decision["desired"] == 3


@pytest.mark.django_db
def test_bad_input_changes_nothing(process_options):
    group = make_group(process_options)
    with pytest.raises(OutOfBounds, match="1 to 4 instances; 9 is outside"):
        services.scale_group(group="web", instances=9, actor="test", reason="too many")
    with pytest.raises(UnknownGroup, match="no scaling group named 'nope'"):
        services.scale_group(group="nope", instances=2, actor="test", reason="x")
    with pytest.raises(ActionError, match="reason is required"):
        services.scale_group(group="web", instances=2, actor="test", reason=" ")
    with pytest.raises(ActionError, match="unknown metric"):
        services.report_metrics(group="web", values={"karma": 3})
    group.refresh_from_db()
    assert group.desired_instances == 1 and not group.instances.exists()
    assert not ScalingEvent.objects.exists()


@pytest.mark.django_db
def test_a_backend_that_cannot_start_records_the_failure(process_options):
    need_redis()
    options = {**process_options, "command": "/nonexistent/server --port {port}"}
    group = make_group(options)
    with pytest.raises(BackendError, match="could not start '/nonexistent/server'"):
        services.scale_group(group="web", instances=3, actor="test", reason="try")
    event = ScalingEvent.objects.get(group=group, kind="manual")
    assert event.result == "failed" and "could not start" in event.error
    group.refresh_from_db()
    assert group.desired_instances == 1          # left asking for what it has, not 3
    assert not group.instances.exclude(state=State.STOPPED).exists()
    record = AuditRecord.objects.get(action="scaling.scale_group")
    assert record.result == "failed" and "could not start" in record.error


@pytest.mark.django_db
def test_replace_instance_drains_the_old_one_after_the_new_one_is_ready(process_options):
    need_redis()
    group = make_group(process_options)
    tick_until_ready(group, 1)
    old = group.instances.get(state=State.READY)
    result = services.replace_instance(group="web", instance_id=old.instance_id, actor="test", reason="rotate")
    old.refresh_from_db()
    assert old.state == State.DRAINING and alive(old.meta["pid"])   # still serving until the new one is up
    assert result.result == "ok"
    tick_until_ready(group, 1)
    old.refresh_from_db()
    assert old.state == State.STOPPED and not alive(old.meta["pid"])
    again = services.replace_instance(group="web", instance_id=old.instance_id, actor="test", reason="rotate")
    assert again.result == "noop"


@pytest.mark.django_db
def test_reload_command_runs_after_the_upstream_changes(process_options, tmp_path):
    need_redis()
    marker = tmp_path / "reloads"
    options = {**process_options, "reload_command": f"sh -c 'echo {{group}} >> {marker}'"}
    group = make_group(options)
    tick_until_ready(group, 1)
    # written empty (one "down" server) while starting, then with the member: two reloads
    assert marker.read_text().split() == ["web", "web"]
    services.autoscale_tick(group="web")
    assert marker.read_text().split() == ["web", "web"]   # unchanged file: no reload


@pytest.mark.django_db
def test_pause_and_resume(process_options):
    need_redis()
    group = make_group(process_options)
    services.pause_autoscaling(group="web", actor="test", reason="maintenance")
    services.pause_autoscaling(group="web", actor="test", reason="maintenance")
    assert ScalingEvent.objects.filter(kind="pause").count() == 1
    services.report_metrics(group="web", values={"request_rate": 2400})
    result = services.autoscale_tick(group="web")[0]
    assert result.detail == "paused" and result.decision["desired"] == 4
    group.refresh_from_db()
    assert group.desired_instances == 1 and not group.enabled and group.paused_reason == "maintenance"
    services.resume_autoscaling(group="web", actor="test", reason="done")
    assert services.autoscale_tick(group="web")[0].decision["desired"] == 4
    group.refresh_from_db()
    assert group.desired_instances == 4


@pytest.mark.django_db
def test_real_cpu_load_measured_with_psutil_drives_scaling(process_options, flags_dir):
    need_redis()
    group = services.create_group(name="web", actor="test", reason="t", min_instances=1, max_instances=3,
                                  backend_options=process_options, warmup_seconds=5,
                                  policies=[("threshold", "cpu_percent", {"up": 50, "down": 20})])
    ScalingGroup.objects.filter(pk=group.pk).update(scale_down_stabilization_seconds=0,
                                                    scale_down_cooldown_seconds=0)
    tick_until_ready(group, 1)
    inst = group.instances.get(state=State.READY)
    (flags_dir / f"{inst.meta['port']}.burn").write_text("x")

    def busy():
        services.autoscale_tick(group="web")
        inst.refresh_from_db()
        return inst.cpu_percent is not None and inst.cpu_percent > 50
    wait_until(busy, 20, interval=0.5, message="psutil to see the instance busy")
    group.refresh_from_db()
    assert group.desired_instances == 2
    event = ScalingEvent.objects.get(kind="autoscale", to_instances=2)
    assert event.metrics["cpu_percent"] > 50 and "cpu_percent" in event.reason
    (flags_dir / f"{inst.meta['port']}.burn").unlink()
    tick_until_ready(group, 2)

    def idle():
        services.autoscale_tick(group="web")
        group.refresh_from_db()
        return group.desired_instances == 1
    wait_until(idle, 20, interval=0.5, message="the idle group to scale back down")
    assert ScalingEvent.objects.filter(kind="autoscale", from_instances=2, to_instances=1).exists()


@pytest.mark.django_db(transaction=True)
def test_default_command_runs_this_projects_web_server(process_options):
    need_redis()
    from tests.support import child_env

    options = {k: v for k, v in process_options.items() if k != "command"}
    options["env"] = child_env(WEB_CONCURRENCY="1")
    group = make_group(options)
    tick_until_ready(group, 1, timeout=40)
    inst = group.instances.get(state=State.READY)
    assert "gunicorn" in inst.meta["argv"] and "config.wsgi:application" in inst.meta["argv"]
    status, body, _ = http_get(f"http://{inst.address}/healthz")
    assert status == 200


@pytest.mark.django_db(transaction=True)
def test_the_tick_task_runs_on_a_real_worker(process_options, tmp_path):
    need_redis()
    from config.celery import app
    from tests.support import child_env, start_worker

    group = make_group(process_options)
    worker = start_worker(tmp_path, child_env(), "scaling-tick-test", "scaling-tick")
    try:
        app.send_task("scaling.tasks.autoscale_tick_task", kwargs={"group": "web"}, queue="scaling-tick-test")
        wait_until(lambda: group.instances.exists(), 30, message="the worker's tick to start an instance")
        event = ScalingEvent.objects.get(group=group)
        assert event.kind == "health" and event.reached_instances == 1
    finally:
        worker.stop()
        for inst in group.instances.all():   # started by the worker process, not by this one
            try:
                os.killpg(inst.meta["pid"], signal.SIGKILL)
            except (ProcessLookupError, KeyError):
                pass


@pytest.mark.django_db
def test_a_crash_looping_command_is_backed_off(process_options):
    need_redis()
    options = {**process_options, "command": f"{sys.executable} -c 'import sys; sys.exit(3)' {{port}}"}
    group = make_group(options)
    services.autoscale_tick(group="web")                 # starts one; it exits at once
    first = group.instances.get()
    wait_until(lambda: not alive(first.meta["pid"]), 10, message="the instance to exit")
    services.autoscale_tick(group="web")                 # sees it gone; holds the next start back
    services.autoscale_tick(group="web")
    first.refresh_from_db()
    assert first.state == State.STOPPED and first.ready_at is None
    assert group.instances.count() == 1                  # no new process while backing off
    event = ScalingEvent.objects.filter(group=group, kind="health").order_by("-id").first()
    assert "died" in event.reason and "held back" in event.error


@pytest.mark.django_db(transaction=True)
def test_request_rate_comes_from_perfmons_traffic_store(process_options):
    """End to end: requests to the group's own web server pass perfmon's middleware, are
    rolled up into perfmon's store, and the tick reads the group's request rate there."""
    need_redis()
    from datetime import timedelta

    from django.utils import timezone

    from perfmon.rollup import rollup_minutes
    from tests.support import child_env

    options = {k: v for k, v in process_options.items() if k != "command"}
    options["env"] = child_env(WEB_CONCURRENCY="1")
    group = make_group(options)
    tick_until_ready(group, 1, timeout=40)
    inst = group.instances.get(state=State.READY)
    for _ in range(30):   # an API read without credentials: a cheap, real, counted request
        assert http_get(f"http://{inst.address}/api/performance/scaling")[0] in (401, 403)

    def rolled_up():
        rollup_minutes(now=timezone.now() + timedelta(minutes=2))   # close the current minute
        return services.autoscale_tick(group="web")[0].decision.get("proposals") is not None and \
            group.samples.order_by("-at").first().values.get("request_rate", 0) >= 30 * 60 / 120
    wait_until(rolled_up, 20, interval=1.0, message="perfmon's traffic to reach the tick")
    sample = group.samples.order_by("-at").first()
    assert "response_time_p95_ms" in sample.values
