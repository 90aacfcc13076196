"""What every case of the fault suite shares: its promotion spec, the client that polls the
Service through the fault (its counts are printed at the end), and the crashes it injects."""

from __future__ import annotations

import os
import subprocess
import time
from typing import Any

import pytest
from sklearn.datasets import load_breast_cancer

from mlrollout.testbed.tools import ROOT
from mlrollout.testbed.traffic import Poller
from promotion_operator.status import PromotionPhase, PromotionStatus

from .cluster import LOCAL_CONTEXT, Cluster
from .mlflow_models import HostMlflow
from .promotions import FAULTS, base_spec, events
from .target import Target

ROWS = load_breast_cancer().data[:1].tolist()


def spec_for(
    host_mlflow: HostMlflow, images: dict[str, str], model: str, version: str,
    *, replicas: int = 1, verify_s: int = 6,
) -> dict[str, Any]:  # fmt: skip
    spec = base_spec(model, version, images["model-server"], host_mlflow.url)
    spec["serving"]["replicas"] = replicas
    spec["rollout"]["verification"]["durationSeconds"] = verify_s
    return spec


def record(fault: str, *pollers: Poller) -> None:
    """The clients saw no failed request through ``fault`` (and did ask)."""
    failures = [failure for poller in pollers for failure in poller.failures]
    answered = sum(poller.ok for poller in pollers)
    FAULTS[fault] = (answered, len(failures))
    assert failures == [], failures[:5]
    assert all(poller.ok > 0 for poller in pollers)


def start_verifying(
    target: Target, host_mlflow: HostMlflow, images: dict[str, str], model: str, verify_s: int
) -> str:
    """A first version of ``model``, rolled out and now verifying for ``verify_s`` seconds."""
    version = host_mlflow.register(model, "logistic_regression")
    target.apply(spec_for(host_mlflow, images, model, version, verify_s=verify_s))
    target.wait(PromotionPhase.VERIFYING, 120)
    return version


def promote_good(
    target: Target, host_mlflow: HostMlflow, images: dict[str, str], model: str
) -> str:
    """A known-good version of ``model``, promoted and serving on two replicas."""
    good = host_mlflow.register(model, "logistic_regression")
    target.apply(spec_for(host_mlflow, images, model, good, replicas=2))
    target.wait(PromotionPhase.PROMOTED)
    return good


def kill_and_restart(target: Target) -> None:
    """SIGKILL the operator (no shutdown handlers, no last status write; its smoke load and its
    memory die) and start another."""
    target.operator.kill()
    time.sleep(3)
    target.operator.start()


def history(status: PromotionStatus) -> list[tuple[str | None, PromotionPhase]]:
    return [(h.version, h.outcome) for h in status.history]


def reasons(target: Target, reason: str) -> int:
    """How many Events about the target have ``reason``."""
    return sum(1 for _, r in events(target.cluster, target.namespace, target.name) if r == reason)


def needs_local_cluster(cluster: Cluster, component: str) -> None:
    """Skip unless the cluster's components are processes here (the local provider)."""
    if cluster.context != LOCAL_CONTEXT:
        pytest.skip(f"crashing {component} needs the local cluster (not {cluster.context})")


def crash_and_restart(cluster: Cluster, component: str) -> None:
    """SIGKILL a component of the local cluster and wait until the cluster works again."""
    needs_local_cluster(cluster, component)
    result = subprocess.run(
        [str(ROOT / "hack" / "cluster.sh"), "restart", component],
        env={**os.environ, "MLROLLOUT_CLUSTER": "local"},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
