"""Parts of the cluster itself crash under a promotion (SIGKILL, then started again): the
operator recovers, the verdict is the one it would have been, and a client polling the Service
throughout sees no failed request. Needs the local cluster, whose components are processes."""

from __future__ import annotations

import pytest

from mlrollout.testbed.traffic import Poller
from promotion_operator.status import PromotionPhase

from .faults import (  # fmt: skip
    ROWS,
    crash_and_restart,
    history,
    needs_local_cluster,
    promote_good,
    record,
    spec_for,
)
from .mlflow_models import HostMlflow
from .target import Target

# Also run on the second provider by CI (make test-e2e-smoke).
pytestmark = pytest.mark.smoke

PROMOTED = PromotionPhase.PROMOTED


def test_the_api_server_crashing_mid_rollout_delays_the_promotion_only(
    target: Target, host_mlflow: HostMlflow, images: dict[str, str], model: str
) -> None:
    needs_local_cluster(target.cluster, "kube-apiserver")
    good = promote_good(target, host_mlflow, images, model)
    candidate = host_mlflow.register(model, "random_forest")
    spec = spec_for(host_mlflow, images, model, candidate, replicas=2)
    spec["rollout"]["progressDeadlineSeconds"] = 300  # the node's pods lag the API's return
    # Not through the API server's proxy: the API server is what this test kills.
    url = target.cluster.cluster_ip_url(target.namespace, target.name)
    with Poller(url, ROWS) as poller:
        target.apply(spec)
        target.wait(PromotionPhase.ROLLING_OUT, 120, poll_s=0.2)
        crash_and_restart(target.cluster, "kube-apiserver")
        status = target.wait(PROMOTED, 360)
    record("kube-apiserver SIGKILL while RollingOut", poller)
    assert history(status) == [(candidate, PROMOTED), (good, PROMOTED)]
    assert target.serving_version() == candidate
    assert host_mlflow.alias(model, "production") == candidate


def test_containerd_crashing_while_verifying_keeps_the_pods_serving(
    target: Target, host_mlflow: HostMlflow, images: dict[str, str], model: str
) -> None:
    version = host_mlflow.register(model, "logistic_regression")
    target.apply(spec_for(host_mlflow, images, model, version, replicas=2, verify_s=30))
    target.wait(PromotionPhase.VERIFYING, 120)
    pods = sorted(target.pods())
    with Poller(target.url(), ROWS) as poller:
        crash_and_restart(target.cluster, "containerd")  # the pods' shims live on
        status = target.wait(PROMOTED, 240)
    record("containerd SIGKILL while Verifying", poller)
    assert history(status) == [(version, PROMOTED)]
    assert sorted(target.pods()) == pods  # the same pods: none was restarted or replaced
    assert host_mlflow.alias(model, "production") == version
