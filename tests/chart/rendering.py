"""The chart rendered by the real helm (`bin/helm` from `make cluster-up`, or one on PATH)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "mlrollout"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))


def helm_binary() -> str:
    local = ROOT / "bin" / "helm"
    found = str(local) if local.exists() else shutil.which("helm")
    if found is None:
        reason = "helm not found: `make cluster-up` builds it and links bin/helm"
        if os.environ.get("MLROLLOUT_E2E_REQUIRED") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm_binary(), *args], capture_output=True, text=True, timeout=60, check=False
    )


def render(*args: str) -> list[dict[str, Any]]:
    result = helm("template", "rel", str(CHART), "--namespace", "mlrollout-system", *args)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]
