"""The raw manifests: `kubectl apply -k` of an overlay on k8s/ installs the operator without Helm,
and the in-cluster operator promotes a version."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlrollout.testbed.promotions import promotion
from mlrollout.testbed.tools import ROOT
from promotion_operator.status import PromotionPhase

from .cluster import Cluster, describe_namespace
from .mlflow_models import HostMlflow
from .promotions import apply, base_spec, wait_phase


@pytest.fixture
def overlay(
    cluster: Cluster, namespace: str, images: dict[str, str], tmp_path: Path
) -> Iterator[Path]:
    """What a user writes on top of k8s/: a namespace, an image tag, one watched namespace."""
    patch = [
        {"op": "add", "path": "/spec/template/spec/containers/0/imagePullPolicy", "value": "Never"},
        {"op": "replace", "path": "/spec/template/spec/containers/0/env/0/value",
         "value": json.dumps([namespace])},
    ]  # fmt: skip
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": namespace,
        # Its own names and a label for the cluster-scoped pieces, so it never collides with
        # (or cleans up) a Helm release of the operator on the same cluster, e.g. `make demo`'s.
        "namePrefix": "e2e-",
        "labels": [{"pairs": {"mlrollout.dev/e2e-install": namespace}}],
        "resources": [os.path.relpath(ROOT / "k8s", tmp_path)],  # kustomize wants it relative
        "images": [{"name": "localhost/mlrollout-operator",
                    "newTag": images["operator"].rsplit(":", 1)[1]}],
        "patches": [{"target": {"kind": "Deployment", "name": "mlrollout-operator"},
                     "patch": json.dumps(patch)}],
    }  # fmt: skip
    (tmp_path / "kustomization.yaml").write_text(json.dumps(kustomization))
    yield tmp_path
    # Cluster-scoped pieces go; the namespace (and what is in it) goes with the fixture.
    cluster.kube.kubectl("delete", "clusterrole,clusterrolebinding", "-l",
                    f"mlrollout.dev/e2e-install={namespace}", "--wait=false")  # fmt: skip


def test_kubectl_apply_k_installs_an_operator_that_promotes(
    cluster: Cluster, namespace: str, overlay: Path, host_mlflow: HostMlflow,
    images: dict[str, str],
) -> None:  # fmt: skip
    env = cluster.kube.kubectl("kustomize", str(overlay))
    assert env.returncode == 0, env.stderr
    assert f'["{namespace}"]' in env.stdout  # the overlay's patch took
    applied = cluster.kube.kubectl("apply", "-k", str(overlay))
    assert applied.returncode == 0, applied.stderr

    def explain() -> str:
        return describe_namespace(cluster, namespace)

    rolled = cluster.kube.kubectl(
        "rollout", "status", "deployment/e2e-mlrollout-operator", "-n", namespace, "--timeout=180s"
    )
    assert rolled.returncode == 0, rolled.stderr + explain()
    labels = cluster.json(cluster.core.read_namespace(namespace))["metadata"]["labels"]
    assert labels.get("pod-security.kubernetes.io/enforce") == "restricted"

    model = f"kustomize-{namespace[-5:]}"
    version = host_mlflow.register(model, "logistic_regression")
    apply(cluster, namespace, promotion("target", base_spec(model, version, images["model-server"],
                                                            host_mlflow.url)))  # fmt: skip
    wait_phase(cluster, namespace, "target", PromotionPhase.PROMOTED, 240, explain)
    assert host_mlflow.alias(model, "production") == version
