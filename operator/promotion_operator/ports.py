"""What the reconciler needs from the outside world, as protocols.

`reconcile.py` depends only on these; `registry.py` (MLflow REST), `cluster.py` (Kubernetes
API), `live.py` (pod metrics) and the driver's Event poster implement them, and unit tests
pass fakes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from .events import Reason
from .manifests import Role
from .registry import ModelVersion, Run


@dataclass(frozen=True)
class RolloutState:
    """How the serving Deployment is doing for one model version."""

    ready: bool
    failed: str | None = None  # why the rollout cannot succeed (crash loop, model load failure…)
    detail: str = ""  # e.g. "1/2 pods of version 3 ready"


@dataclass(frozen=True)
class MirrorCounters:
    """Mirrored traffic one pod counted: as a champion, the requests it mirrored by outcome
    (sent, dropped, failed); as a shadow, the rows it compared with the champion's answers."""

    outcomes: dict[str, float] = field(default_factory=dict)
    rows: float = 0.0
    agreed: float = 0.0
    labels: dict[tuple[str, str], float] = field(default_factory=dict)  # (side, label) → rows


@dataclass(frozen=True)
class PodCounters:
    """Cumulative inference counters of one serving pod (its model server's `/metrics`)."""

    requests: float
    errors: float  # 5xx answers
    # latency histogram: upper bound in seconds → cumulative count (Prometheus `le` buckets)
    buckets: dict[float, float] = field(default_factory=dict)
    # gauges at the sample: the container's working set and memory limit (None: not reported)
    memory_bytes: float | None = None
    memory_limit_bytes: float | None = None
    # its `/profile`: the model's reference profile and the counts served in its bins (None:
    # the model has no reference profile, or an older server)
    profile: dict[str, Any] | None = None
    mirror: MirrorCounters = field(default_factory=MirrorCounters)


@dataclass(frozen=True)
class LiveSample:
    """The counters of each ready serving pod of one version, by pod name.

    Kept per pod so that a pod leaving the ready set (scale-in, one pod unready) or restarting
    (counters back to zero) changes only its own share of a window, never the whole of it.
    """

    pods: dict[str, PodCounters] = field(default_factory=dict)


class RegistryPort(Protocol):
    async def model_version(self, name: str, version: str) -> ModelVersion: ...
    async def version_for_alias(self, name: str, alias: str) -> ModelVersion: ...
    async def run(self, run_id: str) -> Run: ...
    async def set_alias(self, name: str, alias: str, version: str) -> None: ...
    async def set_version_tags(self, name: str, version: str, tags: dict[str, str]) -> None: ...
    async def model_tags(self, name: str) -> dict[str, str]: ...
    async def set_model_tag(self, name: str, key: str, value: str) -> None: ...


class ClusterPort(Protocol):
    async def apply(self, objects: list[dict[str, Any]]) -> None: ...
    async def remove(self, kind: str, name: str, namespace: str) -> None: ...
    async def rollout_state(
        self, name: str, namespace: str, version: str, role: Role = "stable"
    ) -> RolloutState: ...
    async def replicas(self, name: str, namespace: str) -> int | None: ...
    async def promotion_exists(self, namespace: str, name: str) -> bool: ...


class LivePort(Protocol):
    async def sample(
        self, name: str, namespace: str, version: str, *, profiles: bool = False
    ) -> LiveSample: ...
    def ensure_smoke_load(
        self, name: str, namespace: str, version: str, model_name: str, rps: float
    ) -> None:
        """Light load on ``version``'s pods; a no-op while it already runs for that version."""
        ...

    def stop_smoke_load(self, name: str, namespace: str) -> None: ...


class EventSink(Protocol):
    """Kubernetes Events about the ModelPromotion being reconciled, named for their intent."""

    def info(self, reason: Reason, message: str) -> None: ...
    def warn(self, reason: Reason, message: str) -> None: ...
