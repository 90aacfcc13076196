"""The ModelPromotion `target` of one e2e test: apply, wait, and what serves it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from mlrollout.testbed.promotions import promotion
from promotion_operator import manifests
from promotion_operator.status import PromotionPhase, PromotionStatus

from .cluster import Cluster
from .operator_process import OperatorProcess
from .promotions import apply, service_url, status_of, wait_phase


@dataclass
class Target:
    cluster: Cluster
    namespace: str
    operator: OperatorProcess
    name: str = "target"

    def apply(self, spec: dict[str, Any]) -> None:
        apply(self.cluster, self.namespace, promotion(self.name, spec))

    def wait(
        self, phase: PromotionPhase, timeout_s: float = 240, poll_s: float = 1.0
    ) -> PromotionStatus:
        log = self.operator.log_tail
        return wait_phase(self.cluster, self.namespace, self.name, phase, timeout_s, log, poll_s)

    def status(self) -> PromotionStatus:
        return status_of(self.cluster, self.namespace, self.name)

    def serving_version(self) -> str:
        """The version the Deployment's pod template runs."""
        deployment = self.cluster.json(
            self.cluster.apps.read_namespaced_deployment(self.name, self.namespace)
        )
        return str(deployment["spec"]["template"]["metadata"]["labels"][manifests.VERSION_LABEL])

    def url(self) -> str:
        return service_url(self.cluster, self.namespace, self.name)

    def pods(self) -> list[str]:
        """The names of the target's pods that are not being deleted."""
        selector = f"{manifests.PROMOTION_LABEL}={self.name}"
        found = self.cluster.json(
            self.cluster.core.list_namespaced_pod(self.namespace, label_selector=selector)
        )
        return [p["metadata"]["name"] for p in found["items"]
                if not p["metadata"].get("deletionTimestamp")]  # fmt: skip

    def evict(self, pod: str) -> int:
        """Ask the Eviction API (what `kubectl drain` does); the HTTP status of the answer."""
        body = client.V1Eviction(metadata=client.V1ObjectMeta(name=pod, namespace=self.namespace))
        try:
            self.cluster.core.create_namespaced_pod_eviction(pod, self.namespace, body)
        except ApiException as exc:
            return int(exc.status)
        return 201
