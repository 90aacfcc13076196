"""The HPA the operator gives a serving target scales it out under load and back in once the
load stops, and a client polling the Service through both sees no failed request."""

from __future__ import annotations

import contextlib

import pytest

from mlrollout.testbed.traffic import Poller
from promotion_operator.status import PromotionPhase

from .cluster import wait_for
from .faults import ROWS, record, spec_for
from .mlflow_models import HostMlflow
from .target import Target

LOAD_CLIENTS = 4  # back-to-back requests: far above 100% of the pod's 50m CPU request
# The HPA scales in to one replica only when both pods together use under one target's worth:
# with a 50% target that is 12 m each, which a pod answering the poller (plus probes, metrics
# and its shadow poll) did not get under on a slow day; 100% leaves room, load still far above.
TARGET_PERCENT = 100


def ready_replicas(target: Target) -> int:
    deployment = target.cluster.apps.read_namespaced_deployment(target.name, target.namespace)
    return int(target.cluster.json(deployment)["status"].get("readyReplicas", 0))


@pytest.mark.timeout(600)  # room for both of its 240 s waits (scale out, then in)
def test_the_hpa_scales_out_under_load_and_in_after_it_without_a_failed_request(
    target: Target, host_mlflow: HostMlflow, images: dict[str, str], model: str
) -> None:
    version = host_mlflow.register(model, "logistic_regression")
    spec = spec_for(host_mlflow, images, model, version)
    spec["serving"]["autoscaling"] = {
        "minReplicas": 1, "maxReplicas": 3, "targetCPUUtilizationPercentage": TARGET_PERCENT,
        "scaleDownStabilizationSeconds": 0,  # scale in at once, not after Kubernetes's 300 s
    }  # fmt: skip
    target.apply(spec)
    target.wait(PromotionPhase.PROMOTED)
    explain = target.operator.log_tail
    with Poller(target.url(), ROWS, period_s=0.5) as poller:
        with contextlib.ExitStack() as stack:
            load = [stack.enter_context(Poller(target.url(), ROWS, period_s=0))
                    for _ in range(LOAD_CLIENTS)]  # fmt: skip
            wait_for("a second ready replica", lambda: ready_replicas(target) >= 2, 240, explain)
        wait_for("the HPA to scale back to one replica", lambda: len(target.pods()) == 1, 240,
                 explain)  # fmt: skip
    record("HPA scale-out under load and scale-in after it", poller, *load)
    assert target.status().phase is PromotionPhase.PROMOTED
