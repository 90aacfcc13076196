"""One promotion as named steps, driven from the resource's status alone.

Every call reads the current status, advances as far as it can without waiting, and returns the
whole new status (the driver persists it once). Each step returns early when its work is not
finished, so a restarted operator resumes from the status (the Argo Rollouts pattern):

    Pending → Evaluating ─┬─► Rejected                      (an offline gate failed)
                          └─► RollingOut ─┬─► Verifying ─┬─► Promoted
                                          │              └─► RollingBack → RolledBack
                                          └─► RollingBack → RolledBack | Failed

An unreachable MLflow is an Error measurement retried with back-off: it never leads to a
rollout, and a verified version waits for MLflow before it is recorded as promoted.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from . import manifests, verification
from .conditions import set_condition
from .events import Reason
from .gates import evaluate
from .offline import evaluate_offline
from .ports import ClusterPort, EventSink, LivePort, RegistryPort
from .registry import NotFound, RegistryUnavailable
from .spec import ModelPromotionSpec
from .status import (
    CONCLUDED,
    HISTORY_LIMIT,
    Candidate,
    ConditionType,
    HistoryEntry,
    MeasurementPhase,
    PromotionPhase,
    PromotionStatus,
    Retry,
    RollbackProgress,
    RolloutProgress,
    VerificationProgress,
    VersionRef,
    rfc3339,
)

MAX_BACKOFF_S = 300
TAG_PREFIX = "mlrollout.dev/"
_MAX_STEPS_PER_PASS = 4


@dataclass
class Scratch:
    """Per-resource memory that may be lost on restart: the status stays the source of truth."""

    alias_checked_at: datetime | None = None
    window: verification.LiveWindow = field(default_factory=verification.LiveWindow)


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
class ModelPromotion:
    """The resource as one pass sees it."""

    name: str
    namespace: str
    generation: int
    spec: ModelPromotionSpec
    status: PromotionStatus


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

    def conclude(self, outcome: PromotionPhase, reason: str) -> None:
        """Record the attempt's verdict in the bounded history, newest first."""
        candidate = self.status.candidate
        entry = HistoryEntry(
            version=candidate.version if candidate else None,
            outcome=outcome,
            reason=reason,
            started_at=candidate.started_at if candidate else None,
            finished_at=self.now,
        )
        self.status.history = [entry, *self.status.history][:HISTORY_LIMIT]
        self.result.outcomes.append(outcome)

    def children(self, version: str) -> list[dict[str, Any]]:
        name, namespace = self.promotion.name, self.promotion.namespace
        objects = [
            manifests.build_deployment(name, namespace, self.spec, version),
            manifests.build_service(name, namespace, self.spec),
        ]
        hpa = manifests.build_hpa(name, namespace, self.spec)
        if hpa is not None:
            objects.append(hpa)
        self.deps.adopt(objects)
        return objects

    async def apply_version(self, version: str) -> None:
        await self.deps.cluster.apply(self.children(version))
        if self.spec.serving.autoscaling is None:
            await self.remove("HorizontalPodAutoscaler")

    async def remove(self, kind: str) -> None:
        await self.deps.cluster.remove(kind, self.promotion.name, self.promotion.namespace)

    async def tag(self, version: str, tags: dict[str, str]) -> None:
        """Best effort: a failed tag write is posted as a warning Event, never blocking."""
        try:
            await self.deps.registry.set_version_tags(
                self.spec.model.name, version, {TAG_PREFIX + k: v for k, v in tags.items()}
            )
        except (RegistryUnavailable, NotFound) as exc:
            self.deps.events.warn(Reason.TAG_WRITE_FAILED, f"version {version}: {exc}")


async def reconcile(promotion: ModelPromotion, deps: Deps) -> PassResult:
    """Advance the promotion as far as possible now; returns the complete new status."""
    step = ReconcilePass(promotion, deps)
    retry = step.status.retry
    if retry is not None and step.now < retry.next_attempt_at:
        return step.result
    desired = await _desired_version(step)
    if desired is not None and desired != step.status.candidate_version:
        _start_attempt(step, desired)
    for _ in range(_MAX_STEPS_PER_PASS):  # fall through finished steps; each returns to wait
        before = step.phase
        await _STEPS.get(step.phase, _maintain)(step)
        if step.phase == before or step.phase in CONCLUDED:
            break
    step.status.observed_generation = promotion.generation
    return step.result


async def _desired_version(step: ReconcilePass) -> str | None:
    """The version the spec asks for; an alias is looked up in MLflow."""
    model, scratch = step.spec.model, step.deps.scratch
    if model.version is not None:
        return model.version
    assert model.alias is not None
    checked = scratch.alias_checked_at
    due = checked is None or (step.now - checked).total_seconds() >= step.deps.alias_poll_seconds
    current = step.status.candidate_version
    if current is not None and not due:
        return current
    scratch.alias_checked_at = step.now
    try:
        found = await step.deps.registry.version_for_alias(model.name, model.alias)
    except NotFound:
        if current is None:
            step.enter(
                PromotionPhase.PENDING, f"alias {model.name}@{model.alias} is not set in MLflow"
            )
        return None
    except RegistryUnavailable as exc:
        if current is None:
            step.enter(PromotionPhase.PENDING, "waiting for MLflow to resolve the alias")
            step.backoff(str(exc))
        return None
    return found.version


def _start_attempt(step: ReconcilePass, version: str) -> None:
    previous = step.status.candidate_version
    if previous is not None and step.phase not in CONCLUDED:
        step.conclude(PromotionPhase.FAILED, f"superseded by version {version}")
    status = step.status
    status.candidate = Candidate(version=version, started_at=step.now)
    status.gates = []
    status.rollout = status.verification = status.retry = None
    step.deps.scratch.window = verification.LiveWindow()
    step.condition(ConditionType.GATES_PASSED, None, "Evaluating", f"checking version {version}")
    step.condition(ConditionType.VERIFIED, None, "NotStarted", "")
    step.enter(PromotionPhase.EVALUATING, f"evaluating gates of version {version}")
    step.deps.events.info(Reason.PROMOTION_STARTED, f"version {version}: checking offline gates")


# -- step 2: offline gates ------------------------------------------------------------------
async def _evaluate(step: ReconcilePass) -> None:
    spec, version = step.spec, step.candidate
    try:
        result = await evaluate_offline(step.deps.registry, spec, version)
    except NotFound as exc:
        step.clear_backoff()
        step.conclude(PromotionPhase.FAILED, str(exc))
        step.enter(PromotionPhase.FAILED, f"version {version} of {spec.model.name}: {exc}")
        step.deps.events.warn(Reason.MODEL_NOT_FOUND, step.status.message or "")
        return
    except RegistryUnavailable as exc:
        step.status.gates = [evaluate(gate, None, error=str(exc)) for gate in spec.gates]
        step.condition(ConditionType.GATES_PASSED, None, "MetricSourceError", str(exc))
        step.backoff(f"MLflow unreachable, nothing rolled out: {exc}")
        return
    step.clear_backoff()
    measurements = result.measurements
    assert step.status.candidate is not None
    step.status.candidate.run_id = result.version.run_id
    step.status.gates = list(measurements)
    if result.verdict is MeasurementPhase.SUCCESSFUL:
        passed = f"{len(measurements)} passed"
        step.condition(ConditionType.GATES_PASSED, True, "AllGatesPassed", passed)
        await _start_rollout(step)
        return
    failing = next(m for m in measurements if m.phase is not MeasurementPhase.SUCCESSFUL)
    step.condition(ConditionType.GATES_PASSED, False, f"Gate{failing.phase.value}", failing.message)
    step.conclude(PromotionPhase.REJECTED, failing.message)
    step.enter(PromotionPhase.REJECTED, failing.message)
    step.deps.events.warn(Reason.REJECTED, f"version {version}: {failing.message}")
    await step.tag(version, {"outcome": "rejected", "reason": failing.message})


# -- step 3 and 4: roll out, wait for ready pods --------------------------------------------
async def _start_rollout(step: ReconcilePass) -> None:
    version = step.candidate
    await step.apply_version(version)
    deadline = step.now + timedelta(seconds=step.spec.rollout.progress_deadline_seconds)
    step.status.rollout = RolloutProgress(started_at=step.now, deadline=deadline)
    message = f"rolling out version {version}"
    step.condition(ConditionType.PROGRESSING, True, "RolloutStarted", message)
    step.enter(PromotionPhase.ROLLING_OUT, message)
    step.deps.events.info(Reason.ROLLING_OUT, f"version {version}: gates passed, rolling out")


async def _watch_rollout(step: ReconcilePass) -> None:
    version, name, namespace = step.candidate, step.promotion.name, step.promotion.namespace
    state = await step.deps.cluster.rollout_state(name, namespace, version)
    rollout = step.status.rollout
    overdue = rollout is not None and step.now > rollout.deadline
    if state.failed is None and not state.ready and overdue:
        seconds = step.spec.rollout.progress_deadline_seconds
        state = type(state)(False, f"no ready pods within {seconds}s ({state.detail})")
    if state.failed is not None:
        await _start_rollback(step, f"rollout of version {version} failed: {state.failed}")
        return
    if not state.ready:
        step.status.message = f"rolling out version {version}: {state.detail}"
        return
    step.condition(ConditionType.PROGRESSING, True, "RolloutComplete", f"version {version} ready")
    step.status.verification = VerificationProgress(started_at=step.now)
    live = step.spec.rollout.verification
    if live.duration_seconds == 0 or not live.gates:
        await _promote(step)
        return
    if live.smoke_load_rps > 0:
        step.deps.live.start_smoke_load(
            name, namespace, version, step.spec.model.name, live.smoke_load_rps
        )
    step.enter(PromotionPhase.VERIFYING, f"verifying version {version} live")


# -- step 5: live verification --------------------------------------------------------------
async def _verify(step: ReconcilePass) -> None:
    version, name, namespace = step.candidate, step.promotion.name, step.promotion.namespace
    live = step.spec.rollout.verification
    progress = step.status.verification
    if progress is not None and progress.passed:
        await _promote(step)  # verified earlier; only the MLflow write is left
        return
    state = await step.deps.cluster.rollout_state(name, namespace, version)
    if state.failed is not None:
        await _start_rollback(step, f"version {version} failed while verifying: {state.failed}")
        return
    if progress is None:
        progress = step.status.verification = VerificationProgress(started_at=step.now)
    if not verification.due(progress, step.now, live.interval_seconds):
        return
    progress.last_measured_at = step.now
    measured = await verification.measure(
        step.deps.live, name, namespace, version,
        verification=live, progress=progress, window=step.deps.scratch.window,
    )  # fmt: skip
    if measured is None:
        return  # the first sample (or the first after an operator restart) opens the window
    offline = [m for m in step.status.gates if m.source != "live"]
    step.status.gates = [*offline, *measured.measurements]
    if measured.verdict is None:
        step.status.message = f"verifying version {version}: {measured.taken}/{live.count}"
        return
    step.deps.live.stop_smoke_load(name, namespace)
    if measured.verdict is MeasurementPhase.SUCCESSFUL:
        step.condition(
            ConditionType.VERIFIED, True, "OnlineGatesPassed", "live verification passed"
        )
        await _promote(step)
        return
    culprit = measured.culprit
    verdict = measured.verdict.value
    step.condition(ConditionType.VERIFIED, False, f"Online{verdict}", culprit.message)
    await _start_rollback(step, f"live verification {verdict.lower()}: {culprit.message}")


# -- step 6: promote, or roll back ----------------------------------------------------------
async def _promote(step: ReconcilePass) -> None:
    version, alias = step.candidate, step.spec.promotion.alias
    try:
        await step.deps.registry.set_alias(step.spec.model.name, alias, version)
    except (RegistryUnavailable, NotFound) as exc:
        step.enter(PromotionPhase.VERIFYING, f"version {version} verified")
        progress = step.status.verification or VerificationProgress(started_at=step.now)
        progress.passed = True
        step.status.verification = progress
        step.backoff(f"verified; waiting for MLflow to record the promotion: {exc}")
        return
    step.clear_backoff()
    summary = [
        {"name": m.name, "phase": m.phase.value, "value": m.value} for m in step.status.gates
    ]
    tags = {"outcome": "promoted", "promotedAt": rfc3339(step.now), "gates": json.dumps(summary)}
    await step.tag(version, tags)
    step.status.serving = VersionRef(version=version)
    step.status.last_known_good = VersionRef(version=version)
    message = f"version {version} promoted; alias {alias} set"
    step.condition(ConditionType.AVAILABLE, True, "Promoted", message)
    step.condition(ConditionType.ROLLED_BACK, False, "Promoted", "")
    step.conclude(PromotionPhase.PROMOTED, "all gates passed")
    step.enter(PromotionPhase.PROMOTED, message)
    step.deps.events.info(Reason.PROMOTED, message)


async def _start_rollback(step: ReconcilePass, reason: str) -> None:
    step.deps.live.stop_smoke_load(step.promotion.name, step.promotion.namespace)
    good = step.status.last_known_good_version
    step.status.rollback = RollbackProgress(reason=reason, started_at=step.now)
    step.condition(ConditionType.PROGRESSING, False, "RollingBack", reason)
    step.deps.events.warn(Reason.ROLLING_BACK, reason)
    if good is None:
        # Nothing ever passed here: remove the broken workload rather than keep it half-up.
        await step.remove("HorizontalPodAutoscaler")
        await step.remove("Deployment")
        await _finish_rollback(step, reason + "; no previous version to restore")
        return
    await step.apply_version(good)
    step.enter(PromotionPhase.ROLLING_BACK, f"{reason}; restoring version {good}")


async def _watch_rollback(step: ReconcilePass) -> None:
    good = step.status.last_known_good_version
    rollback = step.status.rollback
    reason = rollback.reason if rollback else ""
    if good is None:
        await _finish_rollback(step, reason)
        return
    name, namespace = step.promotion.name, step.promotion.namespace
    state = await step.deps.cluster.rollout_state(name, namespace, good)
    started = rollback.started_at if rollback else step.now
    limit = timedelta(seconds=step.spec.rollout.progress_deadline_seconds)
    if state.failed is not None or (not state.ready and step.now - started > limit):
        message = f"{reason}; and restoring version {good} failed: {state.failed or state.detail}"
        step.conclude(PromotionPhase.FAILED, message)
        step.enter(PromotionPhase.FAILED, message)
        step.deps.events.warn(Reason.ROLLBACK_FAILED, message)
        return
    if not state.ready:
        step.status.message = f"{reason}; restoring version {good}: {state.detail}"
        return
    try:
        await step.deps.registry.set_alias(step.spec.model.name, step.spec.promotion.alias, good)
    except (RegistryUnavailable, NotFound) as exc:
        step.backoff(f"version {good} restored; waiting for MLflow to restore the alias: {exc}")
        return
    await _finish_rollback(step, reason)


async def _finish_rollback(step: ReconcilePass, reason: str) -> None:
    step.clear_backoff()
    good, failed = step.status.last_known_good_version, step.status.candidate_version
    step.status.serving = VersionRef(version=good)
    if failed is not None:
        await step.tag(failed, {"outcome": "rolled-back", "reason": reason})
    step.condition(ConditionType.ROLLED_BACK, True, "RolledBack", reason)
    serving = f"serving {good or 'nothing'}"
    step.condition(ConditionType.AVAILABLE, good is not None, "RolledBack", serving)
    step.conclude(PromotionPhase.ROLLED_BACK, reason)
    step.enter(PromotionPhase.ROLLED_BACK, reason)
    step.deps.events.warn(Reason.ROLLED_BACK, reason)


async def _maintain(step: ReconcilePass) -> None:
    """Concluded: keep the serving objects in line with a changed serving spec."""
    serving = step.status.serving_version
    changed = step.status.observed_generation != step.promotion.generation
    if step.phase in {PromotionPhase.PROMOTED, PromotionPhase.ROLLED_BACK} and serving and changed:
        await step.apply_version(serving)


async def _pending(step: ReconcilePass) -> None:
    return None


_STEPS: dict[PromotionPhase, Callable[[ReconcilePass], Awaitable[None]]] = {
    PromotionPhase.PENDING: _pending,
    PromotionPhase.EVALUATING: _evaluate,
    PromotionPhase.ROLLING_OUT: _watch_rollout,
    PromotionPhase.VERIFYING: _verify,
    PromotionPhase.ROLLING_BACK: _watch_rollback,
}
