"""Kubernetes: the scale subresource of a Deployment, through the official client.

The orchestrator places the pods; this backend sets `spec.replicas` (PATCH on
`deployments/{name}/scale`, idempotent by nature) and reads the Deployment's pods
(by its selector) to mirror them as instances, ready when their Ready condition is
True. Authentication: in-cluster service account, a kubeconfig (and context), or an
explicit API server `host` with a bearer `token`.
"""
from __future__ import annotations

from typing import Any

from ..errors import BackendError
from .base import GroupSpec, InstanceInfo, ReplicaStatus, ScalingBackend


class KubernetesBackend(ScalingBackend):
    features = frozenset({"replicas"})
    option_defaults: dict[str, Any] = {
        "deployment": "{group}",
        "namespace": "default",
        "in_cluster": False,
        "kubeconfig": "",
        "context": "",
        "host": "",
        "token": "",
        "verify_ssl": True,
        "request_timeout": 10.0,
    }

    def __init__(self, alias: str, options: dict[str, Any] | None = None):
        super().__init__(alias, options)
        self._clients: dict[tuple, Any] = {}

    def _api(self, group: GroupSpec):
        from kubernetes import client, config

        o = group.options
        key = (o["in_cluster"], o["kubeconfig"], o["context"], o["host"], o["token"], o["verify_ssl"])
        if key not in self._clients:
            configuration = client.Configuration()
            try:
                if o["host"]:
                    configuration.host = o["host"]
                    if o["token"]:
                        configuration.api_key = {"authorization": f"Bearer {o['token']}"}
                elif o["in_cluster"]:
                    config.load_incluster_config(client_configuration=configuration)
                else:
                    config.load_kube_config(config_file=o["kubeconfig"] or None, context=o["context"] or None,
                                            client_configuration=configuration)
            except config.ConfigException as exc:
                raise BackendError(f"Kubernetes configuration for group {group.name}: {exc}") from exc
            configuration.verify_ssl = bool(o["verify_ssl"])
            api = client.ApiClient(configuration)
            self._clients[key] = (client.AppsV1Api(api), client.CoreV1Api(api))
        return self._clients[key]

    def _names(self, group: GroupSpec) -> tuple[str, str]:
        return group.options["deployment"].format(group=group.name), group.options["namespace"]

    def _call(self, what: str, fn, *args, **kwargs):
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return fn(*args, _request_timeout=self.options["request_timeout"], **kwargs)
        except ApiException as exc:
            raise BackendError(f"Kubernetes API refused {what}: {exc.status} {exc.reason}") from exc
        except HTTPError as exc:
            raise BackendError(f"Kubernetes API unreachable for {what}: {exc}") from exc

    def set_replicas(self, group: GroupSpec, count: int) -> ReplicaStatus:
        """PATCH the scale subresource to `count`; then report the pods as they are."""
        apps, _ = self._api(group)
        name, namespace = self._names(group)
        self._call(f"scaling deployment {namespace}/{name}", apps.patch_namespaced_deployment_scale,
                   name, namespace, {"spec": {"replicas": int(count)}})
        return self.get_replicas(group)

    def get_replicas(self, group: GroupSpec) -> ReplicaStatus:
        apps, core = self._api(group)
        name, namespace = self._names(group)
        deployment = self._call(f"reading deployment {namespace}/{name}", apps.read_namespaced_deployment,
                                name, namespace)
        labels = (deployment.spec.selector.match_labels or {}) if deployment.spec.selector else {}
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        pods = self._call(f"listing pods of {namespace}/{name}", core.list_namespaced_pod, namespace,
                          label_selector=selector).items
        instances, ready = [], set()
        for index, pod in enumerate(sorted(pods, key=lambda p: p.metadata.name)):
            if pod.metadata.deletion_timestamp is not None:
                continue
            info = InstanceInfo(pod.metadata.name, pod.status.pod_ip or "", index,
                                {"phase": pod.status.phase, "node": pod.spec.node_name if pod.spec else None})
            instances.append(info)
            conditions = pod.status.conditions or []
            if any(c.type == "Ready" and c.status == "True" for c in conditions):
                ready.add(info.instance_id)
        return ReplicaStatus(desired=deployment.spec.replicas or 0,
                             ready=deployment.status.ready_replicas or 0,
                             instances=tuple(instances), ready_ids=frozenset(ready))

    def stop_instance(self, group: GroupSpec, instance: InstanceInfo) -> None:
        """Delete one pod (graceful); the Deployment replaces it. A pod already gone is fine."""
        from kubernetes.client.exceptions import ApiException

        _, core = self._api(group)
        _, namespace = self._names(group)
        try:
            core.delete_namespaced_pod(instance.instance_id, namespace,
                                       _request_timeout=self.options["request_timeout"])
        except ApiException as exc:
            if exc.status == 404:
                return
            raise BackendError(f"Kubernetes API refused deleting pod {namespace}/{instance.instance_id}: "
                               f"{exc.status} {exc.reason}") from exc
