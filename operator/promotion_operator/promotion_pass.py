"""One reconcile pass: the new status it builds, what it saw happen, and the world it acts on.

`reconcile.py` and `rollback.py` hold the steps; this module holds what every step uses: the
ports (`Deps`), the resource as the pass sees it, and `ReconcilePass`, whose helpers are the
only writers of phases, conditions, back-off and history.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from . import manifests
from .conditions import set_condition
from .control import ControlRequest
from .events import Reason
from .ports import ClusterPort, EventSink, LivePort, RegistryPort
from .registry import NotFound, RegistryUnavailable
from .spec import ModelPromotionSpec
from .status import (
    HISTORY_LIMIT,
    ConditionType,
    HistoryEntry,
    PromotionPhase,
    PromotionStatus,
    Retry,
    Workload,
)
from .verification import LiveWindow

MAX_BACKOFF_S = 300
TAG_PREFIX = "mlrollout.dev/"
# Child objects the spec may or may not ask for; one it no longer asks for is removed.
OPTIONAL_KINDS = ("HorizontalPodAutoscaler", "PodDisruptionBudget")


def digest(value: Any) -> str:
    """A short, stable fingerprint of JSON-able data (manifests, gates)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class Scratch:
    """Per-resource memory that may be lost on restart: the status stays the source of truth."""

    alias_checked_at: datetime | None = None
    window: LiveWindow = field(default_factory=LiveWindow)


@dataclass
class Deps:
    """The outside world, as the ports in `ports.py`."""

    registry: RegistryPort
    cluster: ClusterPort
    live: LivePort
    events: EventSink
    adopt: Callable[[list[dict[str, Any]]], None]  # owner references on child objects
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    alias_poll_seconds: float = 30.0
    scratch: Scratch = field(default_factory=Scratch)


@dataclass(frozen=True)
class Asked:
    """A control request on the resource (`control.py`) and who asked."""

    request: ControlRequest
    by: str


@dataclass(frozen=True)
class ModelPromotion:
    """The resource as one pass sees it."""

    name: str
    namespace: str
    generation: int
    spec: ModelPromotionSpec
    status: PromotionStatus
    asked: Asked | None = None  # the request in its annotations, handled or not


@dataclass(frozen=True)
class PhaseChange:
    """The pass moved the promotion from one phase to another."""

    left: PromotionPhase | None
    entered: PromotionPhase
    seconds_in_left: float | None  # None when the left phase's start is unknown


@dataclass
class PassResult:
    """What a pass produced: the new status and what happened on the way, for metrics and logs."""

    status: PromotionStatus
    changes: list[PhaseChange] = field(default_factory=list)
    outcomes: list[PromotionPhase] = field(default_factory=list)  # verdicts added to history


class ReconcilePass:
    """One reconcile pass: the new status being built, and the helpers every step uses."""

    def __init__(self, promotion: ModelPromotion, deps: Deps) -> None:
        self.promotion = promotion
        self.spec = promotion.spec
        self.deps = deps
        self.now = deps.now()
        self.status = promotion.status.model_copy(deep=True)
        self.result = PassResult(self.status)

    @property
    def phase(self) -> PromotionPhase:
        return self.status.current_phase

    @property
    def candidate(self) -> str:
        """The version of the attempt in progress (every step after Pending has one)."""
        version = self.status.candidate_version
        assert version is not None, "a step past Pending always has a candidate"
        return version

    def enter(self, phase: PromotionPhase, message: str) -> None:
        if self.status.phase is not phase:
            since = self.status.phase_since
            seconds = (self.now - since).total_seconds() if since and self.status.phase else None
            self.result.changes.append(PhaseChange(self.status.phase, phase, seconds))
            self.status.phase_since = self.now
        self.status.phase = phase
        self.status.message = message

    def condition(
        self, type_: ConditionType, status: bool | None, reason: str, message: str
    ) -> None:
        self.status.conditions = set_condition(
            self.status.conditions, type_, status, reason=reason, message=message, now=self.now
        )

    def backoff(self, why: str) -> None:
        """Try again later, doubling the wait; the phase does not move."""
        attempt = (self.status.retry.attempt if self.status.retry else 0) + 1
        delay = min(5 * 2 ** (attempt - 1), MAX_BACKOFF_S)
        next_at = self.now + timedelta(seconds=delay)
        self.status.retry = Retry(attempt=attempt, next_attempt_at=next_at, reason=why)
        self.status.message = f"{why}; retry {attempt} in {delay}s"

    def clear_backoff(self) -> None:
        self.status.retry = None

    def conclude(
        self,
        outcome: PromotionPhase,
        reason: str,
        action: str | None = None,
        requested_by: str | None = None,
        version: str | None = None,
    ) -> None:
        """Record the attempt's verdict in the bounded history, newest first (``action`` and
        ``requested_by``: the person's request that ended it, if one did; ``version``: the
        version it is about, when not the candidate's — an undo's)."""
        candidate = self.status.candidate
        entry = HistoryEntry(
            version=version or (candidate.version if candidate else None),
            outcome=outcome,
            reason=reason,
            started_at=candidate.started_at if candidate else None,
            finished_at=self.now,
            action=action,
            requested_by=requested_by,
        )
        self.status.history = [entry, *self.status.history][:HISTORY_LIMIT]
        self.result.outcomes.append(outcome)

    def children(self, version: str) -> list[dict[str, Any]]:
        name, namespace = self.promotion.name, self.promotion.namespace
        objects = [
            manifests.build_deployment(name, namespace, self.spec, version),
            manifests.build_service(name, namespace, self.spec),
        ]
        for optional in (manifests.build_hpa, manifests.build_pdb):
            built = optional(name, namespace, self.spec)
            if built is not None:
                objects.append(built)
        self.deps.adopt(objects)
        return objects

    async def apply_version(self, version: str) -> None:
        """Serve ``version`` with the objects the spec describes now, and remember them."""
        objects = self.children(version)
        await self.deps.cluster.apply(objects)
        present = {obj["kind"] for obj in objects}
        for kind in OPTIONAL_KINDS:  # e.g. autoscaling turned off: its HPA goes
            if kind not in present:
                await self.remove(kind)
        self.status.workload = Workload(version=version, digest=digest(objects))

    async def remove_workload(self) -> None:
        for kind in (*OPTIONAL_KINDS, "Deployment"):
            await self.remove(kind)
        self.status.workload = None

    def workload_is_current(self) -> bool:
        """The applied objects are what the spec asks for now (nothing applied: nothing due)."""
        workload = self.status.workload
        return workload is None or digest(self.children(workload.version)) == workload.digest

    async def remove(self, kind: str) -> None:
        await self.deps.cluster.remove(kind, self.promotion.name, self.promotion.namespace)

    async def apply_side(self, role: manifests.Role, version: str, replicas: int) -> None:
        """A shadow's or canary's Deployment beside the main one (a shadow's Service too)."""
        name, namespace = self.promotion.name, self.promotion.namespace
        objects = [manifests.build_deployment(name, namespace, self.spec, version, role, replicas)]
        if role == "shadow":
            objects.append(manifests.build_shadow_service(name, namespace, self.spec))
        self.deps.adopt(objects)
        await self.deps.cluster.apply(objects)

    async def remove_sides(self) -> None:
        """No shadow or canary left: what is not there is skipped, and an attempt that never
        made one (replace) asks the API nothing."""
        strategy = self.status.strategy
        if strategy is None or strategy.name == "replace":
            return
        namespace = self.promotion.namespace
        for role in ("shadow", "canary"):
            side = manifests.deployment_name(self.promotion.name, role)
            await self.deps.cluster.remove("Deployment", side, namespace)
        shadow = manifests.deployment_name(self.promotion.name, "shadow")
        await self.deps.cluster.remove("Service", shadow, namespace)

    async def tag(self, version: str, tags: dict[str, str]) -> None:
        """Best effort: a failed tag write is posted as a warning Event, never blocking."""
        try:
            await self.deps.registry.set_version_tags(
                self.spec.model.name, version, {TAG_PREFIX + k: v for k, v in tags.items()}
            )
        except (RegistryUnavailable, NotFound) as exc:
            self.deps.events.warn(Reason.TAG_WRITE_FAILED, f"version {version}: {exc}")
