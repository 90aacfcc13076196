"""argocd/argocd-cm.yaml carries health.lua itself, byte for byte (`make argocd-cm` writes it)."""

from __future__ import annotations

import subprocess
import sys

import yaml

from .health import ARGOCD, HEALTH_LUA, ROOT

KEY = "resource.customizations.health.mlrollout.dev_ModelPromotion"


def test_the_argocd_cm_patch_holds_the_tested_script() -> None:
    patch = yaml.safe_load((ARGOCD / "argocd-cm.yaml").read_text())
    assert (patch["apiVersion"], patch["kind"]) == ("v1", "ConfigMap")
    assert patch["metadata"]["name"] == "argocd-cm"
    assert patch["data"] == {KEY: HEALTH_LUA.read_text()}, "run `make argocd-cm`"


def test_the_argocd_cm_patch_is_rendered_by_make_argocd_cm() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "hack" / "render-argocd-cm.py"), "--check"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
