"""A user can always delete what they created: with the operator running, stopped or gone,
a ModelPromotion and its namespace go at once (nothing holds them: no finalizer)."""

from __future__ import annotations

import json
import time

from kubernetes.client.exceptions import ApiException

from mlrollout.testbed.promotions import promotion
from promotion_operator.spec import GROUP
from promotion_operator.status import PromotionPhase

from .cluster import Cluster, wait_for
from .mlflow_models import HostMlflow
from .operator_process import OperatorProcess
from .promotions import apply, base_spec, get, wait_phase

OLD_FINALIZER = f"{GROUP}/finalizer"  # what operators before this one put on every resource


def test_a_promotion_and_its_namespace_delete_while_the_operator_is_down(
    cluster: Cluster, namespace: str, operator: OperatorProcess, host_mlflow: HostMlflow,
    images: dict[str, str],
) -> None:  # fmt: skip
    model = f"lifecycle-{namespace[-5:]}"
    version = host_mlflow.register(model, "logistic_regression")
    spec = base_spec(model, version, images["model-server"], host_mlflow.url)
    apply(cluster, namespace, promotion("target", spec))
    wait_phase(cluster, namespace, "target", PromotionPhase.PROMOTED, 240, operator.log_tail)
    assert get(cluster, namespace, "target")["metadata"].get("finalizers") in (None, [])
    operator.stop()

    started = time.monotonic()
    deleted = cluster.kube.kubectl("delete", "mp", "target", "-n", namespace, "--timeout=30s")
    assert deleted.returncode == 0, deleted.stderr
    cluster.core.delete_namespace(namespace)

    def gone() -> bool:
        try:
            cluster.core.read_namespace(namespace)
        except ApiException as exc:
            return bool(exc.status == 404)
        return False

    wait_for(
        f"namespace {namespace} to be deleted",
        gone,
        90,
        lambda: namespace_state(cluster, namespace),
    )
    assert time.monotonic() - started < 90


def test_the_finalizer_of_an_older_operator_is_taken_off(
    cluster: Cluster, namespace: str, operator: OperatorProcess, crd: None
) -> None:
    body = promotion("legacy", base_spec("legacy", "1", "localhost/none:0", "http://mlflow:5000"))
    body["metadata"]["finalizers"] = [OLD_FINALIZER]
    created = cluster.kube.kubectl("create", "-n", namespace, "-f", "-", stdin=json.dumps(body))
    assert created.returncode == 0, created.stderr

    def released() -> bool:
        obj = get(cluster, namespace, "legacy")
        return OLD_FINALIZER not in (obj["metadata"].get("finalizers") or [])

    wait_for("the operator to remove the old finalizer", released, 60, operator.log_tail)


def namespace_state(cluster: Cluster, namespace: str) -> str:
    result = cluster.kube.kubectl("get", "namespace", namespace, "-o", "json")
    return result.stdout + result.stderr
