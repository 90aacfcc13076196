"""ModelPromotion helpers of the e2e tier on top of `mlrollout.testbed`: apply, read, wait for
a phase (with the namespace's state and the operator's log when it fails), Events, Services."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mlrollout.testbed.promotions import promotion_spec, wait_for_phase
from promotion_operator.spec import GROUP, PLURAL, VERSION
from promotion_operator.status import PromotionPhase, PromotionStatus, read_status

from .cluster import Cluster, describe_namespace

# Measured durations, printed in the test session's summary.
TIMINGS: dict[str, float] = {}
# Faults injected and survived: fault → (requests answered during it, requests failed).
FAULTS: dict[str, tuple[int, int]] = {}


def base_spec(model: str, version: str, image: str, tracking_uri: str) -> dict[str, Any]:
    """A quick promotion on one replica, of an image that `make images` loaded (never pulled)."""
    return promotion_spec(model, version, image, tracking_uri, image_pull_policy="Never")


def apply(cluster: Cluster, namespace: str, body: dict[str, Any]) -> None:
    result = cluster.kube.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(body))
    assert result.returncode == 0, result.stderr


def get(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    obj = cluster.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    assert isinstance(obj, dict)
    return obj


def status_of(cluster: Cluster, namespace: str, name: str) -> PromotionStatus:
    return read_status(get(cluster, namespace, name))


def wait_phase(
    cluster: Cluster, namespace: str, name: str, phase: PromotionPhase, timeout_s: float,
    operator_log: Callable[[], str] = lambda: "", poll_s: float = 1.0,
) -> PromotionStatus:  # fmt: skip
    """Wait for ``phase`` of the spec's version; another verdict fails at once with the state."""
    _, status = wait_for_phase(
        lambda: get(cluster, namespace, name), {phase}, timeout_s,
        explain=lambda: f"{describe_namespace(cluster, namespace)}\n"
                        f"--- operator log ---\n{operator_log()}",
        poll_s=poll_s,
    )  # fmt: skip
    return status


def events(cluster: Cluster, namespace: str, name: str) -> list[tuple[str, str]]:
    """(type, reason) of the Events about the ModelPromotion, oldest first."""
    selector = f"involvedObject.name={name},involvedObject.kind=ModelPromotion"
    listed = cluster.json(cluster.core.list_namespaced_event(namespace, field_selector=selector))
    items = sorted(listed["items"], key=lambda e: e["metadata"]["creationTimestamp"])
    return [(e["type"], e["reason"]) for e in items]


def service_url(cluster: Cluster, namespace: str, name: str) -> str:
    """The Service's base URL through the API server's proxy (the same on every provider)."""
    return cluster.service_url(namespace, name)
