"""The operator's layers, checked from its imports (kopf's `.importlinter` idea, without a tool).

handlers → wiring → driver → reconcile/rollback → promotion_pass → pure modules (gates,
verification, manifests, status, spec…). The pure core reaches the world only through
`ports.py`, so it can be driven by the in-memory fakes; kopf, the Kubernetes client and HTTP
stay in the adapters.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "operator" / "promotion_operator"
ADAPTERS = {
    "handlers",
    "wiring",
    "driver",
    "credentials",
    "cluster",
    "live",
    "metrics",
    "discovery",
    "notify",  # posts webhook notifications with httpx
    "__main__",
}
# The registry client is an adapter too, but its errors and value types are part of the ports.
CORE = {p.stem for p in PACKAGE.glob("*.py")} - ADAPTERS - {"__init__", "registry"}
IO_LIBRARIES = {"kopf", "kubernetes", "httpx", "prometheus_client"}


def imports_of(module: str) -> set[str]:
    """Top-level libraries and sibling modules that ``module`` imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse((PACKAGE / f"{module}.py").read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.module:  # `import x.y`, `from x import y`, `from .x import y`
                found.add(node.module.split(".")[0])
            else:  # `from . import x`
                found.update(alias.name for alias in node.names)
    return found


def test_the_core_is_what_the_layers_say() -> None:
    assert {"reconcile", "rollback", "promotion_pass", "gates", "verification", "status",
            "spec", "ports"} <= CORE  # fmt: skip


@pytest.mark.parametrize("module", sorted(CORE))
def test_the_core_does_no_io_of_its_own(module: str) -> None:
    imported = imports_of(module)
    assert imported.isdisjoint(IO_LIBRARIES), f"{module} imports {imported & IO_LIBRARIES}"
    assert imported.isdisjoint(ADAPTERS), f"{module} imports adapters {imported & ADAPTERS}"


def test_only_handlers_carry_kopf_decorators() -> None:
    decorated = sorted(
        p.stem for p in PACKAGE.glob("*.py") if "@kopf." in p.read_text() and p.stem != "handlers"
    )
    assert decorated == []
