"""Fixtures of the e2e tier: the test cluster, a namespace per test, MLflow for the pods, images.

MLflow runs on this machine, bound to the address pods reach it at (the node's bridge address
on the local cluster, the kind network's gateway on kind; MLROLLOUT_E2E_HOST_IP overrides). A
selector-less Service named `mlflow` in each test namespace gives it a cluster DNS name.

Without a reachable test cluster every test here is skipped with the reason, unless
MLROLLOUT_E2E_REQUIRED=1 (CI sets it), which turns the skip into a failure.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from mlrollout import tracking_server
from mlrollout.testbed.images import image_names
from mlrollout.testbed.tools import ROOT

from .cluster import Cluster, NoTestCluster, connect, describe_namespace, wait_for
from .mlflow_models import HostMlflow
from .operator_process import OperatorProcess
from .promotions import FAULTS, TIMINGS
from .target import Target

CRD = ROOT / "k8s" / "crds" / "modelpromotions.mlrollout.dev.yaml"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    report = yield
    if call.when == "call":
        item.stash[_FAILED] = bool(getattr(report, "failed", False))
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """The test cluster, with a `kubectl proxy` through which tests reach Services and pods."""
    try:
        found = connect()
    except NoTestCluster as exc:
        if os.environ.get("MLROLLOUT_E2E_REQUIRED") == "1":
            pytest.fail(f"MLROLLOUT_E2E_REQUIRED=1 but {exc}")
        pytest.skip(str(exc))
    with found.kube.api_proxy() as proxy_url:
        yield dataclasses.replace(found, proxy_url=proxy_url)


@pytest.fixture(scope="session")
def crd(cluster: Cluster) -> None:
    applied = cluster.kube.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD))
    assert applied.returncode == 0, applied.stderr
    waited = cluster.kube.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s",
        "crd/modelpromotions.mlrollout.dev",
    )  # fmt: skip
    assert waited.returncode == 0, waited.stderr


@pytest.fixture(scope="session")
def images() -> dict[str, str]:
    """The images `make images` built for this tree, by role (MLROLLOUT_*_IMAGE overrides)."""
    return image_names()


@pytest.fixture
def namespace(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace per test, deleted afterwards; its state is printed when the test fails."""
    short = request.node.name.removeprefix("test_").replace("_", "-")[:30].strip("-")
    name = f"e2e-{short}-{uuid.uuid4().hex[:5]}"
    body = client.V1Namespace(
        metadata=client.V1ObjectMeta(name=name, labels={"mlrollout.dev/e2e": "true"})
    )
    cluster.core.create_namespace(body)
    wait_for(
        f"default ServiceAccount in {name}",
        lambda: cluster.core.read_namespaced_service_account("default", name),
        60,
        lambda: "",
    )
    yield name
    if request.node.stash.get(_FAILED, False):
        sys.stderr.write(f"\n==== state of namespace {name} ====\n")
        sys.stderr.write(describe_namespace(cluster, name))
    if os.environ.get("MLROLLOUT_E2E_KEEP") != "1":
        with contextlib.suppress(ApiException):  # 404: the test deleted it itself
            cluster.core.delete_namespace(name, propagation_policy="Background")


@pytest.fixture
def model(request: pytest.FixtureRequest) -> str:
    """A registered model name of the test's own (so it owns the model's aliases)."""
    return "e2e-" + str(request.node.name).removeprefix("test_")[:40].replace("_", "-")


@pytest.fixture(scope="session")
def host_mlflow(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostMlflow]:
    """A real MLflow server on this machine that pods reach, with the demo models trained in it."""
    config = tracking_server.TrackingServerConfig(
        store_dir=tmp_path_factory.mktemp("e2e-mlflow"),
        host=cluster.host_ip,
        port=tracking_server.free_port(cluster.host_ip),
        allowed_hosts=(cluster.host_ip, f"{cluster.host_ip}:*", "mlflow", "mlflow:*", "mlflow.*"),
    )
    mlflow = HostMlflow(config, config.store_dir / "server.log")
    mlflow.start()
    try:
        mlflow.train_demo()
        yield mlflow
    finally:
        mlflow.stop()


@pytest.fixture
def mlflow_service(cluster: Cluster, namespace: str, host_mlflow: HostMlflow) -> str:
    """A Service `mlflow` in the test namespace whose endpoint is the host's MLflow server."""
    port = host_mlflow.config.port
    cluster.core.create_namespaced_service(
        namespace,
        client.V1Service(
            metadata=client.V1ObjectMeta(name="mlflow"),
            spec=client.V1ServiceSpec(
                ports=[client.V1ServicePort(name="http", port=5000, target_port=port)]
            ),
        ),
    )
    client.DiscoveryV1Api(cluster.api).create_namespaced_endpoint_slice(
        namespace,
        client.V1EndpointSlice(
            metadata=client.V1ObjectMeta(
                name="mlflow-host", labels={"kubernetes.io/service-name": "mlflow"}
            ),
            address_type="IPv4",
            endpoints=[client.V1Endpoint(addresses=[cluster.host_ip])],
            ports=[client.DiscoveryV1EndpointPort(name="http", port=port, protocol="TCP")],
        ),
    )
    return f"http://mlflow.{namespace}.svc.cluster.local:5000"


@pytest.fixture
def operator(
    cluster: Cluster, namespace: str, crd: None, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[OperatorProcess]:
    """The operator as a process on this machine, watching only the test's namespace."""
    process = OperatorProcess(cluster, namespace, tmp_path / "operator.log")
    process.start()
    yield process
    process.stop()
    if request.node.stash.get(_FAILED, False):
        sys.stderr.write(f"\n==== operator log ====\n{process.log_tail(80)}\n")


@pytest.fixture
def target(cluster: Cluster, namespace: str, operator: OperatorProcess) -> Target:
    """The ModelPromotion `target` in the test's namespace, with its operator."""
    return Target(cluster, namespace, operator)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        terminalreporter.section("e2e timings")
        for what, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{what}: {seconds:.1f} s")
    if FAULTS:
        terminalreporter.section("faults survived")
        for fault, (answered, failed) in FAULTS.items():
            terminalreporter.write_line(f"{fault}: {answered} requests answered, {failed} failed")
        answered = sum(a for a, _ in FAULTS.values())
        failed = sum(f for _, f in FAULTS.values())
        terminalreporter.write_line(
            f"total: {len(FAULTS)} faults, {answered} requests answered, {failed} failed"
        )
