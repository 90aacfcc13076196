"""Write argocd/argocd-cm.yaml (the argocd-cm patch) from argocd/health.lua, so the copy Argo CD
reads and the script the tests run cannot drift: `make argocd-cm` writes it, tests/argocd checks.

Usage: python hack/render-argocd-cm.py [--check]
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "argocd" / "health.lua"
TARGET = ROOT / "argocd" / "argocd-cm.yaml"
# Argo CD's key: resource.customizations.health.<group>_<kind>
KEY = "resource.customizations.health.mlrollout.dev_ModelPromotion"
HEADER = """\
# Argo CD health check of ModelPromotions, as a patch of Argo CD's argocd-cm ConfigMap:
#   kubectl -n argocd patch configmap argocd-cm --patch-file argocd/argocd-cm.yaml
# (or list it under `patches:` of the kustomization that installs Argo CD).
# Generated from argocd/health.lua by `make argocd-cm`. Do not edit: edit health.lua, re-render.
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
data:
"""


def render() -> str:
    lua = SCRIPT.read_text()
    if not lua.endswith("\n") or lua.endswith("\n\n") or "\t" in lua:
        raise SystemExit(f"{SCRIPT}: end it with exactly one newline and indent with spaces")
    # A literal block scalar keeps every character; blank lines stay blank (no trailing spaces).
    body = "".join(f"    {line}".rstrip() + "\n" for line in lua.splitlines())
    return f"{HEADER}  {KEY}: |\n{body}"


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        if not TARGET.exists() or TARGET.read_text() != text:
            print(f"{TARGET} is stale: run `make argocd-cm`", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
