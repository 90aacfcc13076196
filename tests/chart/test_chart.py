"""The Helm chart, rendered by the real helm: lint, values documentation and schema, the CRD's
single source, least-privilege RBAC. (Installing it on a cluster is in tests/e2e.)"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .rendering import CHART, CI_VALUES, ROOT, helm, helm_binary, render


def test_the_chart_crd_is_the_k8s_crd() -> None:
    """One source of truth: the chart carries a copy of k8s/crds/ (helm cannot read outside)."""
    source = (ROOT / "k8s" / "crds" / "modelpromotions.mlrollout.dev.yaml").read_text()
    copy = (CHART / "files" / "modelpromotions.mlrollout.dev.yaml").read_text()
    assert copy == source, "run `make chart-crd` to copy k8s/crds/ into the chart"


def test_every_value_is_described() -> None:
    """Each key of values.yaml has a `# --` comment, or sits inside a described block."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented = []
    described: list[tuple[int, bool]] = []  # (indent, has `# --`) of the enclosing keys
    for number, line in enumerate(lines):
        match = re.match(r"^(\s*)([A-Za-z]\w*):(.*)$", line)
        if not match:
            continue
        indent = len(match.group(1))
        described = [(i, d) for i, d in described if i < indent]
        comment = lines[number - 1].strip() if number else ""
        above = number - 1
        while above >= 0 and lines[above].strip().startswith("#") and "# --" not in comment:
            comment = lines[above].strip()
            above -= 1
        has_doc = comment.startswith("# --") or any(d for _, d in described)
        described.append((indent, has_doc))
        if match.group(3).strip() and not has_doc:  # a leaf value nobody explains
            undocumented.append(match.group(2))
    assert undocumented == []


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.name)
def test_lint_is_clean(values: Path) -> None:
    result = helm("lint", "--strict", str(CHART), "-f", str(values))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_refuses_unknown_keys_and_wrong_types() -> None:
    unknown = helm("template", "rel", str(CHART), "--set", "operator.image.tag=x",
                   "--set", "operator.replicaz=2")  # fmt: skip
    assert unknown.returncode != 0
    assert "replicaz" in unknown.stderr
    wrong = helm("template", "rel", str(CHART), "--set", "operator.image.tag=x",
                 "--set", "operator.metricsPort=high")  # fmt: skip
    assert wrong.returncode != 0
    assert "metricsPort" in wrong.stderr
    latest = helm("template", "rel", str(CHART), "--set", "operator.image.tag=latest")
    assert latest.returncode != 0


def test_an_image_tag_is_required() -> None:
    result = helm("template", "rel", str(CHART))
    assert result.returncode != 0
    assert "operator.image.tag is required" in result.stderr


def _rules(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [rule for doc in docs if doc["kind"] == kind for rule in doc.get("rules", [])]


def test_namespaced_watching_grants_nothing_cluster_wide_but_crd_reads() -> None:
    docs = render("-f", str(CHART / "ci" / "namespaced-values.yaml"))
    cluster_rules = [
        rule for doc in docs if doc["kind"] == "ClusterRole"
        and "aggregate" not in " ".join(doc["metadata"].get("labels", {}))
        for rule in doc["rules"]
    ]  # fmt: skip
    assert cluster_rules == [
        {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"],
         "verbs": ["get", "list", "watch"]},
    ]  # fmt: skip
    roles = [doc for doc in docs if doc["kind"] == "Role"]
    assert sorted(role["metadata"]["namespace"] for role in roles) == ["team-a", "team-b"]
    env = next(doc for doc in docs if doc["kind"] == "Deployment")["spec"]["template"]["spec"][
        "containers"
    ][0]["env"]
    assert {"name": "MLROLLOUT_OPERATOR_NAMESPACES", "value": '["team-a","team-b"]'} in env


def test_secrets_are_readable_only_by_name() -> None:
    for values in CI_VALUES:
        docs = render("-f", str(values))
        for kind in ("ClusterRole", "Role"):
            for rule in _rules(docs, kind):
                if "secrets" in rule["resources"]:
                    assert rule["verbs"] == ["get"]
                    assert rule["resourceNames"] == ["mlflow-credentials"], values.name
        assert not any("*" in rule["verbs"] for rule in _rules(docs, "ClusterRole"))


def test_every_pod_meets_the_restricted_standard() -> None:
    docs = render("-f", str(CHART / "ci" / "default-values.yaml"))
    pods = [doc["spec"]["template"]["spec"] for doc in docs if doc["kind"] == "Deployment"]
    pods += [doc["spec"] for doc in docs if doc["kind"] == "Pod"]  # the helm test
    assert len(pods) == 3
    for pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"] == {"drop": ["ALL"]}
            assert security["readOnlyRootFilesystem"] is True


def test_the_crd_is_kept_on_uninstall_when_asked() -> None:
    kept = next(
        d for d in render("-f", str(CI_VALUES[0])) if d["kind"] == "CustomResourceDefinition"
    )
    assert kept["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    dropped = render("-f", str(CHART / "ci" / "namespaced-values.yaml"))
    crd = next(d for d in dropped if d["kind"] == "CustomResourceDefinition")
    assert crd["metadata"]["annotations"] == {}
    none = render("-f", str(CI_VALUES[0]), "--set", "crds.install=false")
    assert not [d for d in none if d["kind"] == "CustomResourceDefinition"]


def test_the_raw_manifests_are_rendered_from_the_chart() -> None:
    """k8s/operator/ is the chart rendered by `make manifests`; a chart change must re-render."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "hack" / "render-manifests.py"), helm_binary(), "--check"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_a_team_mlflow_keeps_every_secret_in_secrets() -> None:
    """PostgreSQL + basic-auth: the pods meet the restricted standard (init containers too),
    MLflow's schema is migrated by its init container, and no password is written into a pod
    spec: every one comes from a secretKeyRef."""
    docs = render("-f", str(CHART / "ci" / "team-mlflow-values.yaml"))
    by_kind = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    database = by_kind[("StatefulSet", "rel-mlrollout-postgresql")]
    mlflow = by_kind[("Deployment", "rel-mlrollout-mlflow")]["spec"]["template"]["spec"]
    assert [c["name"] for c in mlflow["initContainers"]] == ["db-upgrade"]
    assert mlflow["initContainers"][0]["command"] == ["mlrollout", "db-upgrade"]
    assert "--app-name basic-auth" in mlflow["containers"][0]["command"][2]
    assert "--workers 2" in mlflow["containers"][0]["command"][2]
    assert database["spec"]["volumeClaimTemplates"][0]["spec"]["resources"] == {
        "requests": {"storage": "1Gi"}
    }
    for pod in (mlflow, database["spec"]["template"]["spec"]):
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"] + pod.get("initContainers", []):
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            for env in container.get("env", []):
                if "PASSWORD" in env["name"] or "SECRET" in env["name"]:
                    assert "secretKeyRef" in env["valueFrom"], env
                uri = env.get("value", "")
                if uri.startswith("postgresql"):  # the password is the Secret's, by reference
                    assert ":$(DB_PASSWORD)@" in uri, env
    secrets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Secret"}
    assert set(secrets["rel-mlrollout-mlflow-auth"]["data"]) == {
        "flask-secret-key", "username", "password",
    }  # fmt: skip
    assert set(secrets["rel-mlrollout-postgresql"]["data"]) == {"password"}
    policy = by_kind[("NetworkPolicy", "rel-mlrollout-postgresql")]
    assert policy["spec"]["ingress"][0]["from"] == [
        {"podSelector": {"matchLabels": {
            "app.kubernetes.io/name": "mlrollout-mlflow", "app.kubernetes.io/instance": "rel",
        }}}
    ]  # fmt: skip


def test_the_schema_refuses_an_unknown_default_permission() -> None:
    wrong = helm(
        "template", "rel", str(CHART), "--set", "operator.image.tag=x",
        "--set", "mlflow.image.tag=x", "--set", "mlflow.auth.defaultPermission=ALL",
    )  # fmt: skip
    assert wrong.returncode != 0
    assert "defaultPermission" in wrong.stderr
