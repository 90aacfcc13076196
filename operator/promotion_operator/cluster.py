"""The Kubernetes side of a promotion: server-side apply, rollout state, removal.

The official client is synchronous; every call runs in a worker thread so the operator's event
loop keeps serving other resources. Pods are asked for their own readiness reason so that a
model that failed to load rolls back at once instead of at the progress deadline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import httpx
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .manifests import PROMOTION_LABEL, ROLE_LABEL, VERSION_LABEL, Role, deployment_name
from .pods import base_url, is_ready
from .ports import RolloutState
from .spec import GROUP, PLURAL, VERSION

log = logging.getLogger(__name__)

FIELD_MANAGER = "mlrollout-operator"
# Waiting reasons after which a pod will not become ready without a change of spec.
_STUCK = {
    "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "ErrImageNeverPull",
    "InvalidImageName", "CreateContainerConfigError", "CreateContainerError", "RunContainerError",
}  # fmt: skip
_RESTARTS_BEFORE_GIVING_UP = 3


class Cluster:
    """Every Kubernetes call the operator makes, each bounded by ``timeout_s`` so that a slow or
    half-open API connection fails a pass (retried) instead of holding it for ever.

    Serving pods are reached at their IPs, or with ``pod_proxy_url`` (a `kubectl proxy`, for an
    operator outside the cluster) through the API server's pod proxy: see `pod_base_url`."""

    def __init__(
        self, api: client.ApiClient | None = None, timeout_s: float = 30.0, pod_proxy_url: str = ""
    ) -> None:
        self._api = api or client.ApiClient()
        self._apps = client.AppsV1Api(self._api)
        self._core = client.CoreV1Api(self._api)
        self._autoscaling = client.AutoscalingV2Api(self._api)
        self._policy = client.PolicyV1Api(self._api)
        self._custom = client.CustomObjectsApi(self._api)
        self._timeout = timeout_s
        self._pod_proxy_url = pod_proxy_url

    def pod_base_url(self, pod: Any) -> str | None:
        """Where the operator reaches this pod's model server (None before it has an IP)."""
        return base_url(pod, self._pod_proxy_url)

    async def write_status(self, namespace: str, name: str, changes: dict[str, Any]) -> None:
        """Merge ``changes`` into the ModelPromotion's status (None removes a field)."""
        await asyncio.to_thread(
            self._custom.patch_namespaced_custom_object_status,
            GROUP, VERSION, namespace, PLURAL, name, {"status": changes},
            _content_type="application/merge-patch+json", _request_timeout=self._timeout,
        )  # fmt: skip

    async def promotion_exists(self, namespace: str, name: str) -> bool:
        try:
            await asyncio.to_thread(
                self._custom.get_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL, name,
                _request_timeout=self._timeout,
            )  # fmt: skip
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def read_secret(self, name: str, namespace: str) -> dict[str, str]:
        """The Secret's data, base64-encoded as the API returns it."""
        secret = await asyncio.to_thread(
            self._core.read_namespaced_secret, name, namespace, _request_timeout=self._timeout
        )
        return {key: str(value) for key, value in (secret.data or {}).items()}

    async def apply(self, objects: list[dict[str, Any]]) -> None:
        for obj in objects:
            await asyncio.to_thread(self._apply_one, obj)

    def _apply_one(self, obj: dict[str, Any]) -> None:
        patch = {
            "Deployment": self._apps.patch_namespaced_deployment,
            "Service": self._core.patch_namespaced_service,
            "HorizontalPodAutoscaler": self._autoscaling.patch_namespaced_horizontal_pod_autoscaler,
            "PodDisruptionBudget": self._policy.patch_namespaced_pod_disruption_budget,
        }[obj["kind"]]
        meta = obj["metadata"]
        patch(
            meta["name"], meta["namespace"], obj,
            field_manager=FIELD_MANAGER, force=True,
            _content_type="application/apply-patch+yaml", _request_timeout=self._timeout,
        )  # fmt: skip

    async def remove(self, kind: str, name: str, namespace: str) -> None:
        hpa = self._autoscaling
        delete = {
            "Deployment": self._apps.delete_namespaced_deployment,
            "Service": self._core.delete_namespaced_service,
            "HorizontalPodAutoscaler": hpa.delete_namespaced_horizontal_pod_autoscaler,
            "PodDisruptionBudget": self._policy.delete_namespaced_pod_disruption_budget,
        }[kind]
        try:
            await asyncio.to_thread(delete, name, namespace, _request_timeout=self._timeout)
        except ApiException as exc:
            if exc.status != 404:
                raise

    async def rollout_state(
        self, name: str, namespace: str, version: str, role: Role = "stable"
    ) -> RolloutState:
        deployment = await self._deployment(deployment_name(name, role), namespace)
        if deployment is None:
            return RolloutState(False, None, "the Deployment does not exist yet")
        pods = await self.pods(name, namespace, version, role)
        stuck = _stuck_reason(pods) or await _load_failure(pods, self.pod_base_url)
        if stuck is not None:
            return RolloutState(False, stuck, stuck)
        return _deployment_state(deployment, pods, version)

    async def replicas(self, name: str, namespace: str) -> int | None:
        """The main Deployment's desired replicas (its HPA's choice), None if it is missing."""
        deployment = await self._deployment(name, namespace)
        replicas: int | None = deployment.spec.replicas if deployment is not None else None
        return replicas

    async def _deployment(self, name: str, namespace: str) -> Any | None:
        """The Deployment, or None when it does not exist."""
        try:
            return await asyncio.to_thread(
                self._apps.read_namespaced_deployment, name, namespace,
                _request_timeout=self._timeout,
            )  # fmt: skip
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    async def pods(
        self, name: str, namespace: str, version: str, role: Role | None = None
    ) -> list[Any]:
        """The pods of ``version``: of one role's Deployment, or (None) of every role."""
        selector = f"{PROMOTION_LABEL}={name},{VERSION_LABEL}={version}"
        if role is not None:  # stable pods have no role label
            selector += f",{ROLE_LABEL}={role}" if role != "stable" else f",!{ROLE_LABEL}"
        found = await asyncio.to_thread(
            self._core.list_namespaced_pod, namespace, label_selector=selector,
            _request_timeout=self._timeout,
        )  # fmt: skip
        items: list[Any] = found.items
        return [p for p in items if p.metadata.deletion_timestamp is None]


def _deployment_state(deployment: Any, pods: list[Any], version: str) -> RolloutState:
    spec, status = deployment.spec, deployment.status
    template_version = (spec.template.metadata.labels or {}).get(VERSION_LABEL)
    if template_version != version:
        return RolloutState(False, None, f"the Deployment serves version {template_version}")
    for condition in status.conditions or []:
        if condition.type == "Progressing" and condition.reason == "ProgressDeadlineExceeded":
            return RolloutState(
                False, f"Deployment progress deadline exceeded: {condition.message}"
            )
    desired = spec.replicas if spec.replicas is not None else 1
    ready_pods = sum(is_ready(p) for p in pods)
    detail = f"{ready_pods}/{desired} pods of version {version} ready"
    complete = (
        (status.observed_generation or 0) >= (deployment.metadata.generation or 0)
        and (status.updated_replicas or 0) >= desired
        and (status.replicas or 0) == (status.updated_replicas or 0)  # old pods are gone
        and (status.available_replicas or 0) >= desired
        and ready_pods >= desired
    )
    return RolloutState(complete, None, detail)


def _stuck_reason(pods: list[Any]) -> str | None:
    for pod in pods:
        for container in pod.status.container_statuses or []:
            waiting = container.state.waiting if container.state else None
            if waiting is not None and waiting.reason in _STUCK:
                return f"pod {pod.metadata.name}: {waiting.reason}: {waiting.message or ''}".strip()
            if (container.restart_count or 0) >= _RESTARTS_BEFORE_GIVING_UP:
                return f"pod {pod.metadata.name} restarted {container.restart_count} times"
    return None


async def _load_failure(pods: list[Any], url_of: Callable[[Any], str | None]) -> str | None:
    """Ask unready pods why: a model server that gave up loading says so on its ready route."""
    for pod in pods:
        base = url_of(pod)
        if is_ready(pod) or base is None:
            continue
        url = f"{base}/v2/health/ready"
        try:
            async with httpx.AsyncClient(timeout=2) as http:
                response = await http.get(url)
            body = response.json()
        except (httpx.HTTPError, ValueError):
            continue  # unreachable (outside the cluster, no pod proxy): the deadline decides
        if response.status_code == 503 and body.get("state") == "failed":
            return f"pod {pod.metadata.name}: {body.get('reason', 'model failed to load')}"
    return None
