"""The Helm chart on the real cluster: installed with --wait into a namespace that enforces the
restricted Pod Security Standard, `helm test`, a promotion through the in-cluster operator, an
upgrade that keeps every ModelPromotion, and an uninstall that keeps the CRD and users' objects."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from mlrollout.testbed.promotions import promotion
from mlrollout.testbed.tools import ROOT
from promotion_operator.status import PromotionPhase, VersionRef

from .cluster import Cluster, describe_namespace, wait_for
from .mlflow_models import HostMlflow
from .promotions import TIMINGS, apply, base_spec, get, status_of, wait_phase

CHART = ROOT / "charts" / "mlrollout"
CRD_NAME = "modelpromotions.mlrollout.dev"


def _tag(image: str) -> str:
    return image.rsplit(":", 1)[1]


@pytest.fixture
def restricted(cluster: Cluster, namespace: str) -> str:
    """The test namespace, enforcing the restricted Pod Security Standard."""
    labels = {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
    }
    cluster.core.patch_namespace(namespace, {"metadata": {"labels": labels}})
    return namespace


@pytest.fixture
def release(cluster: Cluster, restricted: str) -> Iterator[str]:
    """A release name of this test's own; whatever it left cluster-wide is removed after."""
    name = f"mlr-{restricted[-5:]}"
    yield name
    cluster.kube.helm("uninstall", name, "-n", restricted, "--ignore-not-found")
    cluster.kube.kubectl("delete", "clusterrole,clusterrolebinding", "-l",
                    f"app.kubernetes.io/instance={name}", "--ignore-not-found")  # fmt: skip


def _adopt_crd(cluster: Cluster, release: str, namespace: str) -> None:
    """Let this release own a CRD that other tests (or an earlier release) left behind, the way
    Helm documents adoption: its ownership annotations and managed-by label."""
    ext = client.ApiextensionsV1Api(cluster.api)
    try:
        ext.read_custom_resource_definition(CRD_NAME)
    except client.ApiException as exc:
        if exc.status == 404:
            return
        raise
    patch = {
        "metadata": {
            "labels": {"app.kubernetes.io/managed-by": "Helm"},
            "annotations": {
                "meta.helm.sh/release-name": release,
                "meta.helm.sh/release-namespace": namespace,
            },
        }
    }
    ext.patch_custom_resource_definition(CRD_NAME, patch)


def _operator_objects(cluster: Cluster, namespace: str, release: str) -> list[str]:
    selector = f"app.kubernetes.io/instance={release}"
    deployments = cluster.json(
        cluster.apps.list_namespaced_deployment(namespace, label_selector=selector)
    )
    found = [f"Deployment/{d['metadata']['name']}" for d in deployments["items"]]
    for kind in ("serviceaccount", "service", "role", "rolebinding", "clusterrole",
                 "clusterrolebinding"):  # fmt: skip
        listed = cluster.kube.kubectl("get", kind, "-A", "-l", selector, "-o", "name")
        found += listed.stdout.split()
    return found


def test_helm_install_promote_upgrade_uninstall(
    cluster: Cluster, restricted: str, release: str, host_mlflow: HostMlflow,
    images: dict[str, str], tmp_path: Path,
) -> None:  # fmt: skip
    namespace = restricted
    values = {
        "operator": {
            "image": {"tag": _tag(images["operator"]), "pullPolicy": "Never"},
            "watchNamespaces": [namespace],
            "reconcileIntervalSeconds": 2,
        },
        "mlflow": {"image": {"tag": _tag(images["mlflow"]), "pullPolicy": "Never"}},
    }
    values_file = tmp_path / "values.json"
    values_file.write_text(json.dumps(values))
    _adopt_crd(cluster, release, namespace)

    started = time.monotonic()
    installed = cluster.kube.helm("install", release, str(CHART), "-n", namespace,
                      "-f", str(values_file), "--wait", "--timeout", "4m")  # fmt: skip
    assert installed.returncode == 0, installed.stderr + describe_namespace(cluster, namespace)
    TIMINGS["helm install --wait (operator + MLflow)"] = time.monotonic() - started
    # The NOTES say where MLflow is.
    assert f"{release}-mlrollout-mlflow.{namespace}" in installed.stdout, installed.stdout

    tested = cluster.kube.helm("test", release, "-n", namespace, "--logs")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "/healthz 200" in tested.stdout, tested.stdout

    # The in-cluster operator promotes a version (pods admitted under the restricted standard).
    model = f"chart-{namespace[-5:]}"
    version = host_mlflow.register(model, "logistic_regression")
    spec = base_spec(model, version, images["model-server"], host_mlflow.url)
    apply(cluster, namespace, promotion("target", spec))
    explain = lambda: describe_namespace(cluster, namespace)  # noqa: E731
    wait_phase(cluster, namespace, "target", PromotionPhase.PROMOTED, 240, explain)
    assert host_mlflow.alias(model, "production") == version
    # Its RBAC is what it needs, and it asks for nothing else (a namespaced kopf once retried a
    # refused namespace list for 54 s before it watched anything).
    logs = cluster.kube.kubectl("logs", "-n", namespace, f"deploy/{release}-mlrollout-operator")
    assert logs.returncode == 0, logs.stderr
    assert "forbidden" not in logs.stdout.lower(), logs.stdout[-3000:]

    # An upgrade with changed values replaces the operator and loses no ModelPromotion.
    before = _operator_pod(cluster, namespace, release)
    upgraded = cluster.kube.helm("upgrade", release, str(CHART), "-n", namespace, "-f",
                     str(values_file), "--set", "operator.aliasPollSeconds=7", "--wait",
                     "--timeout", "4m")  # fmt: skip
    assert upgraded.returncode == 0, upgraded.stderr
    wait_for("a new operator pod", lambda: _operator_pod(cluster, namespace, release) != before,
             120, explain)  # fmt: skip
    env = _operator_env(cluster, namespace, release)
    assert env["MLROLLOUT_OPERATOR_ALIAS_POLL_SECONDS"] == "7"
    kept = status_of(cluster, namespace, "target")
    assert kept.phase is PromotionPhase.PROMOTED
    assert kept.serving == VersionRef(version=version)

    # Uninstall: no operator object is left; the CRD and the user's ModelPromotion stay.
    removed = cluster.kube.helm("uninstall", release, "-n", namespace, "--wait")
    assert removed.returncode == 0, removed.stderr
    assert _operator_objects(cluster, namespace, release) == []
    crd = cluster.kube.kubectl("get", "crd", CRD_NAME, "-o", "name")
    assert crd.returncode == 0, crd.stderr
    assert get(cluster, namespace, "target")["metadata"]["name"] == "target"


def _operator_pod(cluster: Cluster, namespace: str, release: str) -> str | None:
    selector = f"app.kubernetes.io/name=mlrollout-operator,app.kubernetes.io/instance={release}"
    pods = cluster.json(cluster.core.list_namespaced_pod(namespace, label_selector=selector))
    ready = [
        p["metadata"]["name"] for p in pods["items"]
        if any(c["type"] == "Ready" and c["status"] == "True"
               for c in p["status"].get("conditions", []))
        and not p["metadata"].get("deletionTimestamp")
    ]  # fmt: skip
    return ready[0] if len(ready) == 1 else None


def _operator_env(cluster: Cluster, namespace: str, release: str) -> dict[str, Any]:
    deployment = cluster.json(
        cluster.apps.read_namespaced_deployment(f"{release}-mlrollout-operator", namespace)
    )
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value") for e in container["env"]}


@pytest.mark.parametrize(
    "values", sorted((CHART / "ci").glob("*-values.yaml")), ids=lambda p: p.name
)
def test_every_ci_values_set_is_accepted_by_the_api_server(
    cluster: Cluster, namespace: str, crd: None, values: Path
) -> None:
    """`helm template` of each ci/ values set, validated by the real API server (dry run)."""
    watch = []
    if "watchNamespaces" in values.read_text():  # only namespaces that exist can hold Roles
        watch = ["--set", f"operator.watchNamespaces={{{namespace}}}"]
    rendered = cluster.kube.helm("template", f"dry-{namespace[-5:]}", str(CHART), "-n", namespace,
                     "-f", str(values), *watch)  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr
    result = cluster.kube.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-",
                             stdin=rendered.stdout)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "(server dry run)" in result.stdout
