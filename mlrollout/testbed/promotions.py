"""ModelPromotion bodies, and following one to the phase a caller waits for.

Statuses are read through the operator's own model (`promotion_operator.status`), so the demo
and the tests see exactly the fields the operator writes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection
from typing import Any

from promotion_operator.spec import GROUP, KIND, VERSION
from promotion_operator.status import CONCLUDED, PromotionPhase, PromotionStatus, read_status

from .tools import TestbedError

# Gates every demo model passes; quick online verification on one replica.
PASSING_GATES: list[dict[str, Any]] = [
    {"metric": "accuracy", "op": ">=", "threshold": 0.85},
    {"metric": "latency_p95_ms", "op": "<=", "threshold": 1000},
]
QUICK_VERIFICATION: dict[str, Any] = {
    "durationSeconds": 6,
    "intervalSeconds": 2,
    "smokeLoadRps": 5,
    "gates": [
        {"metric": "error_rate", "op": "<=", "threshold": 0.05},
        {"metric": "latency_p95_ms", "op": "<=", "threshold": 2000},
    ],
}


def promotion(name: str, spec: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": KIND, "metadata": metadata, "spec": spec}


def promotion_spec(
    model: str,
    version: str,
    image: str,
    tracking_uri: str,
    *,
    gates: list[dict[str, Any]] | None = None,
    replicas: int = 1,
    progress_deadline_s: int = 120,
    verification: dict[str, Any] | None = None,
    image_pull_policy: str = "IfNotPresent",
    credentials_secret: str | None = None,
) -> dict[str, Any]:
    """A ModelPromotion spec with small resources; the defaults make a quick promotion."""
    login = {"credentialsSecretRef": {"name": credentials_secret}} if credentials_secret else {}
    return {
        "model": {"name": model, "version": version},
        "mlflow": {"trackingUri": tracking_uri, **login},
        "gates": json.loads(json.dumps(PASSING_GATES if gates is None else gates)),
        "serving": {
            "image": image,
            "imagePullPolicy": image_pull_policy,
            "replicas": replicas,
            "resources": {"requests": {"cpu": "50m", "memory": "200Mi"}},
        },
        "rollout": {
            "progressDeadlineSeconds": progress_deadline_s,
            "verification": json.loads(json.dumps(verification or QUICK_VERIFICATION)),
        },
        "promotion": {"alias": "production"},
    }


def is_current(obj: dict[str, Any], status: PromotionStatus) -> bool:
    """The status is about the version the spec names now (any version, for an alias)."""
    wanted = obj["spec"]["model"].get("version")
    return status.candidate_version is not None and wanted in (None, status.candidate_version)


def _refused(obj: dict[str, Any], status: PromotionStatus) -> bool:
    seen = (obj.get("status") or {}).get("observedGeneration")
    return (
        status.candidate_version is None
        and status.current_phase is PromotionPhase.FAILED
        and seen == obj["metadata"].get("generation")
    )


def wait_for_phase(
    read: Callable[[], dict[str, Any]],
    phases: Collection[PromotionPhase],
    timeout_s: float,
    *,
    on_change: Callable[[float, str], None] | None = None,
    explain: Callable[[], str] = lambda: "",
    poll_s: float = 1.0,
) -> tuple[dict[str, Any], PromotionStatus]:
    """Poll the ModelPromotion ``read`` returns until its current version reaches one of
    ``phases``; a different verdict fails at once, with the status and ``explain()``."""
    started, last = time.monotonic(), ""
    while True:
        obj = read()
        status = read_status(obj)
        current = is_current(obj, status)
        if on_change is not None:
            line = f"{status.current_phase}: {status.message}" if current else "Pending"
            if line != last:
                on_change(time.monotonic() - started, line)
                last = line
        if current and status.current_phase in phases:
            return obj, status
        if _refused(obj, status):  # the operator refused this spec before any version
            raise TestbedError(f"{obj['metadata']['name']} was refused: {status.message}")
        if current and status.concluded:
            raise TestbedError(
                f"{obj['metadata']['name']} reached {status.current_phase} instead of "
                f"{' or '.join(phases)}: {status.message}\n"
                f"{json.dumps(status.to_json(), indent=2)}\n{explain()}"
            )
        if time.monotonic() - started > timeout_s:
            raise TestbedError(
                f"{obj['metadata']['name']} did not reach {' or '.join(phases)} in "
                f"{timeout_s:.0f}s (now {status.current_phase}: {status.message})\n{explain()}"
            )
        time.sleep(poll_s)


def wait_for_verdict(
    read: Callable[[], dict[str, Any]], timeout_s: float, **kwargs: Any
) -> tuple[dict[str, Any], PromotionStatus]:
    """Until the current version is Promoted, Rejected, RolledBack or Failed."""
    return wait_for_phase(read, CONCLUDED, timeout_s, **kwargs)
