"""Kubernetes and Docker backends at their HTTP boundary (recorded API exchanges
served by a local server); the Celery pool backend for real."""
import sys
import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured

from scaling import services
from scaling.backends import get_backend
from scaling.backends.docker import DockerBackend
from scaling.backends.kubernetes import KubernetesBackend
from scaling.errors import BackendError
from scaling.models import Instance, ScalingEvent
from tests.scaling.replay_server import ReplayServer, recorded
from tests.support import child_env, need_redis, wait_until


def k8s(url):
    backend = KubernetesBackend("k8s", {"host": url, "token": "t0ken", "namespace": "shop"})
    return backend, backend.spec("web")


def test_kubernetes_scales_the_deployment_scale_subresource():
    with ReplayServer(recorded("k8s_scale")) as server:
        backend, spec = k8s(server.url)
        status = backend.set_replicas(spec, 3)
    patch = server.requests[0]
    assert patch["method"] == "PATCH" and patch["path"].endswith("/deployments/web/scale")
    assert patch["body"] == {"spec": {"replicas": 3}}
    assert patch["headers"]["authorization"] == "Bearer t0ken"
    assert "patch" in patch["headers"]["Content-Type"]
    pods = server.requests[2]
    assert pods["path"] == "/api/v1/namespaces/shop/pods" and "labelSelector=app%3Dweb" in pods["query"]
    assert status.desired == 3 and status.ready == 2
    assert [i.instance_id for i in status.instances] == ["web-7d9c6b8f5-2xkqp", "web-7d9c6b8f5-8hz4m",
                                                         "web-7d9c6b8f5-qq7rl"]
    assert status.ready_ids == {"web-7d9c6b8f5-2xkqp", "web-7d9c6b8f5-8hz4m"}
    assert not server.unexpected


def test_kubernetes_refusal_is_a_readable_backend_error():
    with ReplayServer(recorded("k8s_forbidden")) as server:
        backend, spec = k8s(server.url)
        with pytest.raises(BackendError, match="refused scaling deployment shop/web: 403 Forbidden"):
            backend.set_replicas(spec, 5)


@pytest.mark.django_db
def test_a_kubernetes_group_scales_through_the_service(settings):
    need_redis()
    with ReplayServer(recorded("k8s_scale")) as server:
        settings.SCALING_BACKENDS = {"k8s": {"BACKEND": "scaling.backends.kubernetes.KubernetesBackend",
                                             "OPTIONS": {"host": server.url, "namespace": "shop"}}}
        services.create_group(name="web", actor="test", reason="t", backend="k8s", min_instances=1,
                              max_instances=5, backend_options={"deployment": "web"})
        result = services.scale_group(group="web", instances=3, actor="test", reason="k8s")
        tick = services.autoscale_tick(group="web")[0]
        replaced = services.replace_instance(group="web", instance_id="web-7d9c6b8f5-2xkqp", actor="test",
                                             reason="stuck")
    assert replaced.result == "ok"
    assert server.requests[-3]["method"] == "DELETE" and server.requests[-3]["path"].endswith("/web-7d9c6b8f5-2xkqp")
    assert result.result == "ok" and result.reached_instances == 3
    assert tick.ran and tick.decision["current"] == 3   # pods mirrored, the pending one not counted ready
    states = dict(Instance.objects.values_list("instance_id", "state"))
    # the recorded pod list still shows the deleted pod (the exchange was recorded before it went)
    assert states == {"web-7d9c6b8f5-2xkqp": "ready", "web-7d9c6b8f5-8hz4m": "ready",
                      "web-7d9c6b8f5-qq7rl": "starting"}
    assert ScalingEvent.objects.get(kind="manual").to_instances == 3
    assert ScalingEvent.objects.get(kind="replace").result == "ok"


def test_docker_starts_inspects_and_removes_containers(tmp_path):
    with ReplayServer(recorded("docker_lifecycle")) as server:
        backend = DockerBackend("docker", {"base_url": server.url.replace("http", "tcp"), "image":
                                           "registry.example/web:1.4.2", "base_port": 8200,
                                           "upstream_file": str(tmp_path / "up-{group}.conf")})
        spec = backend.spec("web")
        info = backend.start_instance(spec, slot=0)
        assert backend.is_alive(spec, info)
        backend.stop_instance(spec, info)
        gone = type(info)("gone", "", 0, {})
        assert backend.is_alive(spec, gone) is False
        backend.stop_instance(spec, gone)           # already gone: not an error
        # image missing locally: the SDK tries a pull, which the registry refuses
        with pytest.raises(BackendError, match="pull access denied"):
            backend.start_instance(spec, slot=1)
    create = server.requests[0]
    assert create["path"] == "/v1.43/containers/create" and "name=cp-web-0" in create["query"]
    assert create["body"]["Image"] == "registry.example/web:1.4.2"
    assert create["body"]["Labels"] == {"controlplane.scaling.group": "web", "controlplane.scaling.slot": "0"}
    assert create["body"]["HostConfig"]["PortBindings"] == {"8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8200"}]}
    assert info.address == "127.0.0.1:8200" and info.instance_id.startswith("3f6b1c2a9d8e")
    methods = [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in server.requests]
    assert ("POST", "stop") in methods and ("DELETE", info.instance_id) in methods
    assert not server.unexpected


def test_bad_backend_settings_are_refused(settings):
    settings.SCALING_BACKENDS = {"default": {"BACKEND": "scaling.backends.nope.Nothing"}}
    with pytest.raises(ImproperlyConfigured, match=r"SCALING_BACKENDS\['default'\]\['BACKEND'\]"):
        get_backend("default")
    settings.SCALING_BACKENDS = {"default": {"BACKEND": "scaling.backends.docker.DockerBackend", "OPTIONS": {}}}
    with pytest.raises(ImproperlyConfigured, match="image required"):
        get_backend("default")
    settings.SCALING_BACKENDS = {"default": {"BACKEND": "scaling.backends.process.ProcessBackend",
                                             "OPTIONS": {"comand": "x"}}}
    with pytest.raises(ImproperlyConfigured, match="unknown option"):
        get_backend("default")
    with pytest.raises(ImproperlyConfigured, match="no backend 'other'"):
        get_backend("other")


@pytest.mark.django_db(transaction=True)
def test_celery_pool_starts_real_workers_and_reads_queue_depth(tmp_path, settings):
    need_redis()
    from config.celery import app

    queue = f"scaling-test-{uuid.uuid4().hex[:8]}"
    settings.SCALING_BACKENDS = {"workers": {"BACKEND": "scaling.backends.celery.CeleryPoolBackend", "OPTIONS": {
        "queue": queue, "env": child_env(), "log_dir": str(tmp_path), "ping_timeout": 1.0}}}
    group = services.create_group(name="workers", actor="test", reason="t", backend="workers", min_instances=1,
                                  max_instances=3, policies=[("target", "queue_depth", {"target": 5})])
    backend, spec = services.backend_for(group)
    for _ in range(12):
        app.send_task("scaling.tasks.autoscale_tick_task", args=["no-such-group"], queue=queue)
    assert backend.queue_depth(spec) == 12
    results = services.autoscale_tick(group="workers")
    # 12 waiting at a target of 5 per worker, none ready yet: ceil(12 / 5) = 3 workers
    assert results[0].decision["desired"] == 3 and "queue_depth" in results[0].decision["reason"]
    assert group.instances.count() == 3
    inst = group.instances.first()
    assert inst.meta["argv"][:3] == [sys.executable, "-m", "celery"] and queue in inst.meta["argv"]

    def ready():
        services.autoscale_tick(group="workers")
        return group.instances.filter(state="ready").exists()
    wait_until(ready, 60, interval=0.5, message="a Celery worker answering ping")
    wait_until(lambda: backend.queue_depth(spec) == 0, 30, message="the worker to drain the queue")
    services.scale_group(group="workers", instances=1, actor="test", reason="done")
    for inst in group.instances.exclude(state="stopped"):
        backend.stop_instance(spec, services._info(inst))
