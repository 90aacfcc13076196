"""Users of the e2e tier who are not the cluster admin: a ServiceAccount bound to a ClusterRole
in one namespace, with a kubeconfig of its own (a token from the TokenRequest API), so a test
runs `kubectl mlrollout` exactly as that user and the real API server judges its RBAC."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from kubernetes import client

from mlrollout.testbed.tools import ROOT

from .cluster import Cluster

PLUGIN_PATH = str(Path(sys.executable).parent)  # .venv/bin: where kubectl-mlrollout is
KUBECTL = ROOT / "bin" / "kubectl"


def user_kubeconfig(
    cluster: Cluster, namespace: str, account: str, cluster_role: str, directory: Path
) -> Path:
    """A kubeconfig for ServiceAccount ``account`` of ``namespace``, bound to ``cluster_role``
    there; the user the API server sees is `system:serviceaccount:<namespace>:<account>`."""
    cluster.core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=account))
    )
    client.RbacAuthorizationV1Api(cluster.api).create_namespaced_role_binding(
        namespace,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name=f"{account}-{cluster_role}"),
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=cluster_role
            ),
            subjects=[
                client.RbacV1Subject(kind="ServiceAccount", name=account, namespace=namespace)
            ],
        ),
    )
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)
    )
    issued = cluster.core.create_namespaced_service_account_token(account, namespace, request)
    assert issued.status is not None, "the API server issued no token"
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    context = next(c for c in admin["contexts"] if c["name"] == cluster.context)
    server = next(c for c in admin["clusters"] if c["name"] == context["context"]["cluster"])
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [server],
        "users": [{"name": account, "user": {"token": issued.status.token}}],
        "contexts": [{"name": cluster.context, "context": {
            "cluster": server["name"], "user": account, "namespace": namespace}}],
        "current-context": cluster.context,
    }  # fmt: skip
    path = directory / f"{account}.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def account_name(namespace: str, account: str) -> str:
    return f"system:serviceaccount:{namespace}:{account}"


def plugin(
    kubeconfig: Path, *args: str, timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    """`kubectl mlrollout ARGS` as the user of ``kubeconfig`` (kubectl finds the plugin on PATH)."""
    env = {**os.environ, "PATH": f"{PLUGIN_PATH}:{os.environ.get('PATH', '')}",
           "KUBECONFIG": str(kubeconfig), "COLUMNS": "160"}  # fmt: skip
    return subprocess.run(
        [str(KUBECTL), "mlrollout", *args], env=env, capture_output=True, text=True,
        timeout=timeout_s, check=False,
    )  # fmt: skip
