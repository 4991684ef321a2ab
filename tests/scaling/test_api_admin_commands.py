"""API, admin actions and manage.py commands: thin entry points over the services."""
import csv
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from perfmon.models import AuditRecord
from scaling import services
from scaling.models import Instance, ScalingEvent, ScalingGroup
from tests.support import need_redis


@pytest.fixture
def group(process_options):
    g = services.create_group(name="web", actor="test", reason="test", min_instances=1, max_instances=4,
                              backend_options=process_options, warmup_seconds=5,
                              policies=[("target", "request_rate", {"target": 600}),
                                        ("predictive", "request_rate", {"target": 600})])
    return g


@pytest.mark.django_db
def test_get_scaling_shows_groups_instances_events_metrics_and_next_decision(viewer_client, group):
    need_redis()
    services.scale_group(group="web", instances=2, actor="test", reason="warm up")
    services.report_metrics(group="web", values={"request_rate": 2400, "response_time_p95_ms": 120})
    response = viewer_client.get("/api/performance/scaling")
    assert response.status_code == 200, response.content
    body = response.json()["groups"][0]
    assert body["name"] == "web" and body["desired_instances"] == 2
    assert len(body["instances"]) == 2 and {i["state"] for i in body["instances"]} == {"starting"}
    assert body["events"][0]["kind"] == "manual" and body["events"][0]["reason"] == "warm up"
    nxt = body["next"]
    assert nxt["metrics"]["request_rate"] == 2400 and nxt["metrics"]["response_time_p95_ms"] == 120
    # No instance is ready yet: target tracking sizes from the total (2400 / 600 = 4).
    assert nxt["desired"] == 4 and nxt["direction"] == "up" and "request_rate" in nxt["reason"]
    assert {p["policy"] for p in nxt["proposals"]} == {"target:request_rate", "predictive:request_rate"}
    assert ScalingEvent.objects.count() == 1       # a preview changes nothing


@pytest.mark.django_db
def test_post_scale_is_staff_only_and_returns_the_event(plain_user, staff_user, group):
    need_redis()
    from django.test import Client

    anonymous, viewer, staff = Client(), Client(), Client()
    viewer.force_login(plain_user)
    staff.force_login(staff_user)
    payload = {"group": "web", "instances": 3, "reason": "campaign"}
    assert anonymous.post("/api/performance/scale", payload, content_type="application/json").status_code in (401, 403)
    assert viewer.post("/api/performance/scale", payload, content_type="application/json").status_code == 403
    assert not ScalingEvent.objects.exists()
    response = staff.post("/api/performance/scale", payload, content_type="application/json")
    assert response.status_code == 200, response.content
    event = response.json()
    assert event["kind"] == "manual" and event["to_instances"] == 3 and event["actor_label"] == "staff"
    assert Instance.objects.exclude(state="stopped").count() == 3


@pytest.mark.django_db
def test_post_scale_bad_input_is_a_clear_400_and_changes_nothing(staff_client, group):
    bad = staff_client.post("/api/performance/scale", {"group": "web", "instances": 11, "reason": "x"},
                            content_type="application/json")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "out_of_bounds"
    assert "1 to 4 instances; 11 is outside" in bad.json()["error"]["message"]
    unknown = staff_client.post("/api/performance/scale", {"group": "nope", "instances": 2, "reason": "x"},
                                content_type="application/json")
    assert unknown.status_code == 404 and "no scaling group named 'nope'" in unknown.json()["error"]["message"]
    shape = staff_client.post("/api/performance/scale", {"group": "web", "instances": "many"},
                              content_type="application/json")
    assert shape.status_code == 400 and set(shape.json()["error"]["fields"]) == {"instances", "reason"}
    group.refresh_from_db()
    assert group.desired_instances == 1 and not ScalingEvent.objects.exists()


@pytest.mark.django_db
def test_pause_resume_and_metrics_endpoints(staff_client, group):
    need_redis()
    r = staff_client.post("/api/performance/scaling/web/pause", {"reason": "deploy"}, content_type="application/json")
    assert r.status_code == 200 and r.json()["enabled"] is False
    r = staff_client.post("/api/performance/scaling/web/resume", {"reason": "done"}, content_type="application/json")
    assert r.json()["enabled"] is True
    r = staff_client.post("/api/performance/scaling/web/metrics", {"values": {"queue_depth": 12}},
                          content_type="application/json")
    assert r.status_code == 200 and r.json()["values"] == {"queue_depth": 12.0}
    assert list(ScalingEvent.objects.order_by("id").values_list("kind", flat=True)) == ["pause", "resume"]


@pytest.mark.django_db
def test_admin_actions_call_the_services(staff_user, client, group):
    need_redis()
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    url = "/admin/scaling/scalinggroup/"
    form = client.post(url, {"action": "scale_group", "_selected_action": [group.pk]})
    assert form.status_code == 200 and b"instances" in form.content
    done = client.post(url, {"action": "scale_group", "_selected_action": [group.pk], "apply": "1",
                             "instances": 2, "reason": "from admin"}, follow=True)
    assert done.status_code == 200
    group.refresh_from_db()
    assert group.desired_instances == 2
    assert AuditRecord.objects.get(action="scaling.scale_group").actor == staff_user
    refused = client.post(url, {"action": "scale_group", "_selected_action": [group.pk], "apply": "1",
                                "instances": 9, "reason": "too many"}, follow=True)
    assert b"9 is outside that range" in refused.content
    client.post(url, {"action": "pause_autoscaling", "_selected_action": [group.pk]})
    group.refresh_from_db()
    assert not group.enabled
    inst = group.instances.first()
    client.post("/admin/scaling/instance/", {"action": "replace_instance", "_selected_action": [inst.pk]})
    assert ScalingEvent.objects.filter(kind="replace").exists()
    listing = client.get(url)
    assert listing.status_code == 200 and b"ready" in listing.content
    for page in ("/admin/scaling/scalingevent/?kind=manual", "/admin/scaling/instance/?q=127.0.0.1",
                 "/admin/scaling/policy/", "/admin/scaling/loadsample/"):
        assert client.get(page).status_code == 200, page


@pytest.mark.django_db
def test_scale_group_and_status_commands(group):
    need_redis()
    out = io.StringIO()
    call_command("scale_group", "--group", "web", "--instances", "2", "--reason", "cli test", stdout=out)
    assert "1 -> 2 (ok)" in out.getvalue()
    with pytest.raises(CommandError, match="9 is outside"):
        call_command("scale_group", "--group", "web", "--instances", "9", "--reason", "x")
    with pytest.raises(CommandError, match="no scaling group named 'db'"):
        call_command("scale_group", "--group", "db", "--instances", "2", "--reason", "x")
    out = io.StringIO()
    call_command("scale_group", "--group", "web", "--instances", "3", "--reason", "x", "--dry-run", stdout=out)
    assert "would go from 2 to 3" in out.getvalue() and ScalingGroup.objects.get().desired_instances == 2
    out = io.StringIO()
    call_command("scaling_status", stdout=out)
    text = out.getvalue()
    assert "web: 2 desired (1..4)" in text and "manual" in text and "next tick:" in text


@pytest.mark.django_db
def test_scaling_replay_command(tmp_path):
    trace = tmp_path / "trace.csv"
    trace.write_text("t_seconds,requests_per_second\n" + "".join(f"{t},{100 if t < 600 else 900}\n"
                                                                  for t in range(0, 1800, 15)))
    out_path = tmp_path / "out.csv"
    out = io.StringIO()
    call_command("scaling_replay", "--trace", str(trace), "--out", str(out_path), "--capacity", "50",
                 "--warmup", "60", "--max", "40", stdout=out)
    rows = list(csv.reader(out_path.open()))
    assert rows[0] == ["t_seconds", "desired"] and len(rows) == 121
    assert int(rows[-1][1]) >= 900 / 50
    text = out.getvalue()
    assert "SLO-violation share" in text and "hpa-baseline" in text and "default policies" in text
    bad = tmp_path / "bad.csv"
    bad.write_text("t_seconds,requests_per_second\n0,10\n15,ten\n")
    with pytest.raises(CommandError, match="line 3"):
        call_command("scaling_replay", "--trace", str(bad), "--out", str(out_path), "--capacity", "50")
    with pytest.raises(CommandError, match="expected the header"):
        (tmp_path / "nohead.csv").write_text("1,2\n")
        call_command("scaling_replay", "--trace", str(tmp_path / "nohead.csv"), "--out", str(out_path),
                     "--capacity", "50")


@pytest.mark.django_db
def test_get_scaling_query_count_is_pinned(viewer_client, group, django_assert_max_num_queries):
    services.scale_group(group="web", instances=2, actor="test", reason="warm up")
    viewer_client.get("/api/performance/scaling")  # warm the session and caches
    with django_assert_max_num_queries(12):
        assert viewer_client.get("/api/performance/scaling").status_code == 200


@pytest.mark.django_db
def test_admin_refuses_a_group_with_bad_backend_options(admin_client):
    response = admin_client.post("/admin/scaling/scalinggroup/add/", {
        "name": "api", "backend": "default", "backend_options": '{"base_port": 80}', "min_instances": 1,
        "max_instances": 3, "enabled": "on", "warmup_seconds": 30, "scale_up_cooldown_seconds": 0,
        "scale_down_cooldown_seconds": 300, "scale_down_stabilization_seconds": 300,
        "scale_up_limit_instances": 4, "scale_up_limit_percent": 100, "scale_down_limit_percent": 100,
        "rate_limit_period_seconds": 15, "paused_reason": "",
        "policies-TOTAL_FORMS": 0, "policies-INITIAL_FORMS": 0, "policies-MIN_NUM_FORMS": 0,
        "policies-MAX_NUM_FORMS": 1000})
    assert response.status_code == 200
    assert b"base_port must be between 1024 and 65000" in response.content
    assert not ScalingGroup.objects.filter(name="api").exists()
