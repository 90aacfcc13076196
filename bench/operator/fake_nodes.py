"""Simulated nodes for rollouts at scale: kwok (`sigs.k8s.io/kwok`) beside the real nodes.

kwok runs on the host against the cluster's API server and manages only the nodes labelled
here: it keeps their leases and marks the pods bound to them Running and Ready, without a
container. The nodes are tainted, so only the bench's serving pods (which tolerate the taint
and select the label) land on them; the real nodes keep everything else.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from kubernetes import client

from bench.serving.tools import bench_tools
from promotion_operator.pods import is_ready

LABEL = "mlrollout.dev/bench-node"
VALUE = "kwok"
# What the bench's ModelPromotions put in spec.serving to run on these nodes.
NODE_SELECTOR = {LABEL: VALUE}
TOLERATIONS = [{"key": LABEL, "operator": "Exists", "effect": "NoSchedule"}]
PODS_PER_NODE = 110  # the kubelet's default


def _node(name: str) -> client.V1Node:
    capacity = {"cpu": "64", "memory": "256Gi", "pods": str(PODS_PER_NODE)}
    return client.V1Node(
        metadata=client.V1ObjectMeta(
            name=name,
            labels={LABEL: VALUE, "kubernetes.io/hostname": name, "type": "kwok"},
            annotations={"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
        ),
        spec=client.V1NodeSpec(
            taints=[client.V1Taint(key=LABEL, value=VALUE, effect="NoSchedule")]
        ),
        status=client.V1NodeStatus(capacity=capacity, allocatable=capacity),
    )


def ready_pods_by_node_kind(api: client.ApiClient, namespace: str) -> dict[str, int]:
    """Ready pods in ``namespace``, counted as on a kwok node ("kwok") or a real one ("real")."""
    core = client.CoreV1Api(api)
    fake = {n.metadata.name for n in core.list_node(label_selector=f"{LABEL}={VALUE}").items
            if n.metadata}  # fmt: skip
    counts = {"kwok": 0, "real": 0}
    for pod in core.list_namespaced_pod(namespace).items:
        if is_ready(pod):
            counts["kwok" if pod.spec and pod.spec.node_name in fake else "real"] += 1
    return counts


def delete_all(core: client.CoreV1Api) -> None:
    """Remove fake nodes a run left (e.g. a bench stopped with Ctrl-C)."""
    for node in core.list_node(label_selector=f"{LABEL}={VALUE}").items:
        with contextlib.suppress(client.exceptions.ApiException):
            core.delete_node(str(node.metadata and node.metadata.name))


@contextlib.contextmanager
def fake_nodes(
    kubeconfig: Path, api: client.ApiClient, pods: int, log_path: Path
) -> Iterator[list[str]]:
    """Enough fake nodes for ``pods`` pods, Ready, with kwok running; removed on exit."""
    core = client.CoreV1Api(api)
    delete_all(core)
    count = max(1, -(-pods // (PODS_PER_NODE - 10)))  # room for DaemonSets that tolerate all
    names = [f"kwok-bench-{i}" for i in range(count)]
    tools = bench_tools(False, "kwok")
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [tools["KWOK"], f"--kubeconfig={kubeconfig}", f"--config={tools['KWOK_STAGES']}",
             "--manage-all-nodes=false", "--node-lease-duration-seconds=40",
             f"--manage-nodes-with-label-selector={LABEL}={VALUE}",
             "--cidr=10.250.0.0/16", "--node-ip=10.250.255.254"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        for name in names:
            core.create_node(_node(name))
        print(f"   {count} kwok nodes for {pods} pods (log {log_path})", flush=True)
        deadline = time.monotonic() + 60
        while not all(is_ready(core.read_node(n)) for n in names):  # a node's Ready as a pod's
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"kwok nodes not Ready in 60 s; see {log_path}")
            time.sleep(0.5)
        yield names
    finally:
        delete_all(core)
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
