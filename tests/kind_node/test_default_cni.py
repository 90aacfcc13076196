"""hack/provider-kind/node/default-cni.yaml against kind's CNI contract: kind templates and
patches the file only when it finds its two phrases, each whole on a line (a wrapped comment
once left `{{ .PodSubnet }}` unrendered and the pod network without masquerade)."""

from __future__ import annotations

from typing import Any

import yaml

from mlrollout.testbed.tools import ROOT

MANIFEST = ROOT / "hack" / "provider-kind" / "node" / "default-cni.yaml"


def _rendered() -> list[dict[str, Any]]:
    """What kind applies: the pod subnet filled in, as its Go template would."""
    text = MANIFEST.read_text().replace("{{ .PodSubnet }}", "10.245.0.0/16")
    return [doc for doc in yaml.safe_load_all(text) if doc]


def test_kinds_phrases_are_whole_on_their_lines() -> None:
    lines = MANIFEST.read_text().splitlines()
    for phrase in ("would you kindly template this file", "would you kindly patch this file"):
        assert any(phrase in line for line in lines), phrase


def test_the_only_template_action_is_the_pod_subnet() -> None:
    text = MANIFEST.read_text()
    assert text.count("{{") == text.count("{{ .PodSubnet }}") == 1


def test_the_daemonset_takes_kinds_patch_and_the_subnet() -> None:
    daemonsets = [d for d in _rendered() if d["kind"] == "DaemonSet"]
    assert len(daemonsets) == 1  # kind's JSON patch targets every DaemonSet in the file
    container = daemonsets[0]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}  # kind appends CONTROL_PLANE_ENDPOINT here
    assert env["POD_SUBNET"]["value"] == "10.245.0.0/16"
    assert daemonsets[0]["spec"]["template"]["spec"]["hostNetwork"] is True


def test_its_service_account_may_list_nodes_and_nothing_more() -> None:
    roles = [d for d in _rendered() if d["kind"] == "ClusterRole"]
    assert [r["rules"] for r in roles] == [[{"apiGroups": [""], "resources": ["nodes"],
                                              "verbs": ["list"]}]]  # fmt: skip
