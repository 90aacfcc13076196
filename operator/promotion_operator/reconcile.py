"""One promotion as named steps, driven from the resource's status alone.

Every call reads the current status, advances as far as it can without waiting, and returns the
whole new status (the handler persists it once). Each step returns early when its work is not
finished, so a restarted operator resumes from the status (the Argo Rollouts pattern):

    Pending → Evaluating ─┬─► Rejected                      (an offline gate failed)
                          └─► RollingOut ─┬─► Verifying ─┬─► Promoted
                                          │              └─► RollingBack → RolledBack
                                          └─► RollingBack → RolledBack | Failed

An unreachable MLflow is an Error measurement retried with back-off: it never leads to a
rollout, and a verified version waits for MLflow before it is recorded as promoted.
"""

from __future__ import annotations

import copy
import enum
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from . import conditions as cond
from . import gates as g
from . import manifests
from .live_values import window_values
from .offline import evaluate_offline
from .ports import ClusterPort, LivePort, LiveSample, RegistryPort
from .registry import NotFound, RegistryUnavailable
from .spec import Gate, ModelPromotionSpec

HISTORY_LIMIT = 10
MAX_BACKOFF_S = 300
TAG_PREFIX = "mlrollout.dev/"


class Phase(enum.StrEnum):
    PENDING = "Pending"
    EVALUATING = "Evaluating"
    REJECTED = "Rejected"
    ROLLING_OUT = "RollingOut"
    VERIFYING = "Verifying"
    PROMOTED = "Promoted"
    ROLLING_BACK = "RollingBack"
    ROLLED_BACK = "RolledBack"
    FAILED = "Failed"


CONCLUDED = {Phase.REJECTED, Phase.PROMOTED, Phase.ROLLED_BACK, Phase.FAILED}


@dataclass
class Deps:
    """The outside world, and a per-resource scratch space that may be lost on restart."""

    registry: RegistryPort
    cluster: ClusterPort
    live: LivePort
    emit: Callable[[str, str, str], None]  # (type Normal|Warning, reason, message)
    adopt: Callable[[list[dict[str, Any]]], None]  # owner references on child objects
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    alias_poll_seconds: float = 30.0
    scratch: dict[str, Any] = field(default_factory=dict)


@dataclass
class Promotion:
    name: str
    namespace: str
    generation: int
    spec: ModelPromotionSpec
    status: dict[str, Any]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(stamp: str | None) -> datetime | None:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) if stamp else None


class _Step:
    """One reconcile pass: the status being built plus helpers every step uses."""

    def __init__(self, promotion: Promotion, deps: Deps) -> None:
        self.p = promotion
        self.spec = promotion.spec
        self.deps = deps
        self.now = deps.now()
        self.stamp = _iso(self.now)
        self.status: dict[str, Any] = copy.deepcopy(promotion.status)
        self.status.setdefault("conditions", [])
        self.status.setdefault("history", [])

    # -- small helpers ----------------------------------------------------------------------
    @property
    def phase(self) -> Phase:
        return Phase(self.status.get("phase", Phase.PENDING))

    @property
    def candidate(self) -> str | None:
        return (self.status.get("candidate") or {}).get("version")

    @property
    def last_known_good(self) -> str | None:
        return (self.status.get("lastKnownGood") or {}).get("version")

    def enter(self, phase: Phase, message: str) -> None:
        if self.status.get("phase") != phase.value:
            self.status["phaseSince"] = self.stamp
        self.status["phase"] = phase.value
        self.status["message"] = message

    def condition(self, type_: str, status: bool | None, reason: str, message: str) -> None:
        self.status["conditions"] = cond.set_condition(
            self.status["conditions"], type_, status, reason=reason, message=message, now=self.stamp
        )

    def backoff(self, why: str) -> None:
        """Try again later, doubling the wait; the phase does not move."""
        attempt = int((self.status.get("retry") or {}).get("attempt", 0)) + 1
        delay = min(5 * 2 ** (attempt - 1), MAX_BACKOFF_S)
        self.status["retry"] = {
            "attempt": attempt,
            "nextAttemptAt": _iso(self.now + timedelta(seconds=delay)),
            "reason": why,
        }
        self.status["message"] = f"{why}; retry {attempt} in {delay}s"

    def clear_backoff(self) -> None:
        self.status.pop("retry", None)

    def conclude(self, outcome: Phase, reason: str) -> None:
        candidate = self.status.get("candidate") or {}
        entry = {
            "version": candidate.get("version"),
            "outcome": outcome.value,
            "reason": reason,
            "startedAt": candidate.get("startedAt"),
            "finishedAt": self.stamp,
        }
        self.status["history"] = [entry, *self.status["history"]][:HISTORY_LIMIT]

    def children(self, version: str) -> list[dict[str, Any]]:
        p = self.p
        objects = [
            manifests.build_deployment(p.name, p.namespace, self.spec, version),
            manifests.build_service(p.name, p.namespace, self.spec),
        ]
        hpa = manifests.build_hpa(p.name, p.namespace, self.spec)
        if hpa is not None:
            objects.append(hpa)
        self.deps.adopt(objects)
        return objects

    async def apply_version(self, version: str) -> None:
        await self.deps.cluster.apply(self.children(version))
        if self.spec.serving.autoscaling is None:
            await self.deps.cluster.remove("HorizontalPodAutoscaler", self.p.name, self.p.namespace)

    async def tag(self, version: str, tags: dict[str, str]) -> None:
        """Best effort: a failed tag write is logged in the status message, never blocking."""
        try:
            await self.deps.registry.set_version_tags(
                self.spec.model.name, version, {TAG_PREFIX + k: v for k, v in tags.items()}
            )
        except (RegistryUnavailable, NotFound) as exc:
            self.deps.emit("Warning", "TagWriteFailed", f"version {version}: {exc}")


async def reconcile(promotion: Promotion, deps: Deps) -> dict[str, Any]:
    """Advance the promotion as far as possible now; returns the complete new status."""
    step = _Step(promotion, deps)
    retry_at = _parse((step.status.get("retry") or {}).get("nextAttemptAt"))
    if retry_at is not None and step.now < retry_at:
        return step.status
    desired = await _desired_version(step)
    if desired is not None and desired != step.candidate:
        _start_attempt(step, desired)
    for _ in range(4):  # fall through finished steps in one pass; each returns when it must wait
        before = step.phase
        await _STEPS.get(step.phase, _maintain)(step)
        if step.phase == before or step.phase in CONCLUDED:
            break
    step.status["observedGeneration"] = promotion.generation
    return step.status


async def _desired_version(step: _Step) -> str | None:
    """The version the spec asks for; an alias is looked up in MLflow."""
    model = step.spec.model
    if model.version is not None:
        return model.version
    assert model.alias is not None
    checked: datetime | None = step.deps.scratch.get("alias_checked_at")
    due = checked is None or (step.now - checked).total_seconds() >= step.deps.alias_poll_seconds
    if step.candidate is not None and not due:
        return step.candidate
    step.deps.scratch["alias_checked_at"] = step.now
    try:
        found = await step.deps.registry.version_for_alias(model.name, model.alias)
    except NotFound:
        if step.candidate is None:
            step.enter(Phase.PENDING, f"alias {model.name}@{model.alias} is not set in MLflow")
        return None
    except RegistryUnavailable as exc:
        if step.candidate is None:
            step.enter(Phase.PENDING, "waiting for MLflow to resolve the alias")
            step.backoff(str(exc))
        return None
    return found.version


def _start_attempt(step: _Step, version: str) -> None:
    previous = step.candidate
    if previous is not None and step.phase not in CONCLUDED:
        step.conclude(Phase.FAILED, f"superseded by version {version}")
    step.status["candidate"] = {"version": version, "startedAt": step.stamp}
    step.status["gates"] = []
    for key in ("rollout", "verification", "retry"):
        step.status.pop(key, None)
    step.deps.scratch.pop("sample", None)
    step.condition(cond.GATES_PASSED, None, "Evaluating", f"checking version {version}")
    step.condition(cond.VERIFIED, None, "NotStarted", "")
    step.enter(Phase.EVALUATING, f"evaluating gates of version {version}")
    step.deps.emit("Normal", "PromotionStarted", f"version {version}: checking offline gates")


# -- step 2: offline gates ------------------------------------------------------------------
async def _evaluate(step: _Step) -> None:
    spec, version = step.spec, step.candidate
    assert version is not None
    try:
        result = await evaluate_offline(step.deps.registry, spec, version)
    except NotFound as exc:
        step.clear_backoff()
        step.conclude(Phase.FAILED, str(exc))
        step.enter(Phase.FAILED, f"version {version} of {spec.model.name}: {exc}")
        step.deps.emit("Warning", "ModelNotFound", step.status["message"])
        return
    except RegistryUnavailable as exc:
        error = [g.evaluate(gate, None, error=str(exc)) for gate in spec.gates]
        step.status["gates"] = [m.as_status() for m in error]
        step.condition(cond.GATES_PASSED, None, "MetricSourceError", str(exc))
        step.backoff(f"MLflow unreachable, nothing rolled out: {exc}")
        return
    step.clear_backoff()
    measurements = result.measurements
    step.status["candidate"]["runId"] = result.version.run_id
    step.status["gates"] = [m.as_status() for m in measurements]
    if result.verdict is g.Phase.SUCCESSFUL:
        step.condition(cond.GATES_PASSED, True, "AllGatesPassed", f"{len(measurements)} passed")
        await _start_rollout(step)
        return
    failing = next(m for m in measurements if m.phase is not g.Phase.SUCCESSFUL)
    step.condition(cond.GATES_PASSED, False, f"Gate{failing.phase.value}", failing.message)
    step.conclude(Phase.REJECTED, failing.message)
    step.enter(Phase.REJECTED, failing.message)
    step.deps.emit("Warning", "Rejected", f"version {version}: {failing.message}")
    await step.tag(version, {"outcome": "rejected", "reason": failing.message})


# -- step 3 and 4: roll out, wait for ready pods --------------------------------------------
async def _start_rollout(step: _Step) -> None:
    version = step.candidate
    assert version is not None
    await step.apply_version(version)
    deadline = step.now + timedelta(seconds=step.spec.rollout.progress_deadline_seconds)
    step.status["rollout"] = {"startedAt": step.stamp, "deadline": _iso(deadline)}
    step.condition(cond.PROGRESSING, True, "RolloutStarted", f"rolling out version {version}")
    step.enter(Phase.ROLLING_OUT, f"rolling out version {version}")
    step.deps.emit("Normal", "RollingOut", f"version {version}: gates passed, rolling out")


async def _watch_rollout(step: _Step) -> None:
    version = step.candidate
    assert version is not None
    state = await step.deps.cluster.rollout_state(step.p.name, step.p.namespace, version)
    deadline = _parse(step.status.get("rollout", {}).get("deadline"))
    if state.failed is None and not state.ready and deadline is not None and step.now > deadline:
        seconds = step.spec.rollout.progress_deadline_seconds
        state = type(state)(False, f"no ready pods within {seconds}s ({state.detail})")
    if state.failed is not None:
        await _start_rollback(step, f"rollout of version {version} failed: {state.failed}")
        return
    if not state.ready:
        step.status["message"] = f"rolling out version {version}: {state.detail}"
        return
    step.condition(cond.PROGRESSING, True, "RolloutComplete", f"version {version} ready")
    step.status["verification"] = {"startedAt": step.stamp, "measurements": {}}
    verification = step.spec.rollout.verification
    if verification.duration_seconds == 0 or not verification.gates:
        await _promote(step)
        return
    if verification.smoke_load_rps > 0:
        step.deps.live.start_smoke_load(
            step.p.name, step.p.namespace, version, step.spec.model.name,
            verification.smoke_load_rps,
        )  # fmt: skip
    step.enter(Phase.VERIFYING, f"verifying version {version} live")


# -- step 5: live verification --------------------------------------------------------------
async def _verify(step: _Step) -> None:
    version = step.candidate
    assert version is not None
    p, verification = step.p, step.spec.rollout.verification
    if step.status.get("verification", {}).get("passed"):
        await _promote(step)  # verified earlier; only the MLflow write is left
        return
    state = await step.deps.cluster.rollout_state(p.name, p.namespace, version)
    if state.failed is not None:
        await _start_rollback(step, f"version {version} failed while verifying: {state.failed}")
        return
    record = step.status.setdefault("verification", {"startedAt": step.stamp, "measurements": {}})
    last = _parse(record.get("lastMeasuredAt")) or _parse(record["startedAt"])
    if last is not None and (step.now - last).total_seconds() < verification.interval_seconds:
        return
    record["lastMeasuredAt"] = step.stamp
    sample, error = await _sample(step, version)
    previous: LiveSample | None = step.deps.scratch.get("sample")
    if sample is not None:
        step.deps.scratch["sample"] = sample
    if sample is not None and previous is None:
        return  # the first sample (or the first after an operator restart) opens the window
    values = window_values(previous, sample) if previous and sample else {}
    series: dict[str, list[dict[str, Any]]] = record.setdefault("measurements", {})
    verdicts: list[g.Phase | None] = []
    latest: list[g.Measurement] = []
    limits = g.Limits(
        verification.failure_limit,
        verification.inconclusive_limit,
        verification.consecutive_error_limit,
    )
    for gate in verification.gates:
        measurement = g.evaluate(gate, values.get(gate.metric), source="live", error=error)
        history = [*series.get(gate.display_name, []), {"phase": measurement.phase.value}]
        series[gate.display_name] = history
        latest.append(measurement)
        phases = [_as_measurement(gate, h) for h in history]
        verdicts.append(g.judge(phases, limits, verification.count))
    step.status["gates"] = [
        *[m for m in step.status.get("gates", []) if m.get("source") != "live"],
        *[m.as_status() for m in latest],
    ]
    verdict = g.overall(verdicts)
    if verdict is None:
        done = min(len(s) for s in series.values()) if series else 0
        step.status["message"] = f"verifying version {version}: {done}/{verification.count}"
        return
    step.deps.live.stop_smoke_load(p.name, p.namespace)
    if verdict is g.Phase.SUCCESSFUL:
        step.condition(cond.VERIFIED, True, "OnlineGatesPassed", "live verification passed")
        await _promote(step)
        return
    culprit = next((m for m in latest if m.phase is not g.Phase.SUCCESSFUL), latest[0])
    step.condition(cond.VERIFIED, False, f"Online{verdict.value}", culprit.message)
    await _start_rollback(step, f"live verification {verdict.value.lower()}: {culprit.message}")


async def _sample(step: _Step, version: str) -> tuple[LiveSample | None, str | None]:
    try:
        return await step.deps.live.sample(step.p.name, step.p.namespace, version), None
    except Exception as exc:  # a metric-source failure is an Error measurement
        return None, f"cannot read the serving pods' metrics: {exc}"


def _as_measurement(gate: Gate, entry: dict[str, Any]) -> g.Measurement:
    phase = g.Phase(entry["phase"])
    name, op = gate.display_name, gate.op.value
    return g.Measurement(name, gate.metric, op, None, None, None, phase, "", "")


# -- step 6: promote, or roll back ----------------------------------------------------------
async def _promote(step: _Step) -> None:
    version = step.candidate
    assert version is not None
    alias = step.spec.promotion.alias
    try:
        await step.deps.registry.set_alias(step.spec.model.name, alias, version)
    except (RegistryUnavailable, NotFound) as exc:
        step.enter(Phase.VERIFYING, f"version {version} verified")
        step.status.setdefault("verification", {})["passed"] = True
        step.backoff(f"verified; waiting for MLflow to record the promotion: {exc}")
        return
    step.clear_backoff()
    summary = [{k: m.get(k) for k in ("name", "phase", "value")} for m in step.status["gates"]]
    gates = json.dumps(summary)
    await step.tag(version, {"outcome": "promoted", "promotedAt": step.stamp, "gates": gates})
    step.status["serving"] = {"version": version}
    step.status["lastKnownGood"] = {"version": version}
    message = f"version {version} promoted; alias {alias} set"
    step.condition(cond.AVAILABLE, True, "Promoted", message)
    step.condition(cond.ROLLED_BACK, False, "Promoted", "")
    step.conclude(Phase.PROMOTED, "all gates passed")
    step.enter(Phase.PROMOTED, message)
    step.deps.emit("Normal", "Promoted", message)


async def _start_rollback(step: _Step, reason: str) -> None:
    step.deps.live.stop_smoke_load(step.p.name, step.p.namespace)
    good = step.last_known_good
    step.status["rollback"] = {"reason": reason, "startedAt": step.stamp}
    step.condition(cond.PROGRESSING, False, "RollingBack", reason)
    step.deps.emit("Warning", "RollingBack", reason)
    if good is None:
        # Nothing ever passed here: remove the broken workload rather than keep it half-up.
        await step.deps.cluster.remove("HorizontalPodAutoscaler", step.p.name, step.p.namespace)
        await step.deps.cluster.remove("Deployment", step.p.name, step.p.namespace)
        await _finish_rollback(step, reason + "; no previous version to restore")
        return
    await step.apply_version(good)
    step.enter(Phase.ROLLING_BACK, f"{reason}; restoring version {good}")


async def _watch_rollback(step: _Step) -> None:
    good, reason = step.last_known_good, step.status.get("rollback", {}).get("reason", "")
    if good is None:
        await _finish_rollback(step, reason)
        return
    state = await step.deps.cluster.rollout_state(step.p.name, step.p.namespace, good)
    started = _parse(step.status.get("rollback", {}).get("startedAt")) or step.now
    limit = timedelta(seconds=step.spec.rollout.progress_deadline_seconds)
    if state.failed is not None or (not state.ready and step.now - started > limit):
        message = f"{reason}; and restoring version {good} failed: {state.failed or state.detail}"
        step.conclude(Phase.FAILED, message)
        step.enter(Phase.FAILED, message)
        step.deps.emit("Warning", "RollbackFailed", message)
        return
    if not state.ready:
        step.status["message"] = f"{reason}; restoring version {good}: {state.detail}"
        return
    try:
        await step.deps.registry.set_alias(step.spec.model.name, step.spec.promotion.alias, good)
    except (RegistryUnavailable, NotFound) as exc:
        step.backoff(f"version {good} restored; waiting for MLflow to restore the alias: {exc}")
        return
    await _finish_rollback(step, reason)


async def _finish_rollback(step: _Step, reason: str) -> None:
    step.clear_backoff()
    good, failed = step.last_known_good, step.candidate
    step.status["serving"] = {"version": good} if good else {}
    if failed is not None:
        await step.tag(failed, {"outcome": "rolled-back", "reason": reason})
    step.condition(cond.ROLLED_BACK, True, "RolledBack", reason)
    step.condition(cond.AVAILABLE, good is not None, "RolledBack", f"serving {good or 'nothing'}")
    step.conclude(Phase.ROLLED_BACK, reason)
    step.enter(Phase.ROLLED_BACK, reason)
    step.deps.emit("Warning", "RolledBack", reason)


async def _maintain(step: _Step) -> None:
    """Concluded: keep the serving objects in line with a changed serving spec."""
    serving = (step.status.get("serving") or {}).get("version")
    changed = step.status.get("observedGeneration") != step.p.generation
    if step.phase in {Phase.PROMOTED, Phase.ROLLED_BACK} and serving and changed:
        await step.apply_version(serving)


async def _pending(step: _Step) -> None:
    return None


_STEPS = {
    Phase.PENDING: _pending,
    Phase.EVALUATING: _evaluate,
    Phase.ROLLING_OUT: _watch_rollout,
    Phase.VERIFYING: _verify,
    Phase.ROLLING_BACK: _watch_rollback,
}
