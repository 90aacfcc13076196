"""One promotion as named steps, driven from the resource's status alone.

Every call reads the current status, advances as far as it can without waiting, and returns the
whole new status (the driver persists it once). Each step returns early when its work is not
finished, so a restarted operator resumes from the status (the Argo Rollouts pattern):

    Pending → Evaluating ─┬─► Rejected                      (an offline gate failed)
                          └─► RollingOut ─┬─► Verifying ─┬─► Promoted
                                          │              └─► RollingBack → RolledBack
                                          └─► RollingBack → RolledBack | Failed

A shadow or canary attempt (`shadow.py`, `canary.py`) goes round RollingOut → Verifying once
per stage: the shadow, then the switch; each canary step. `status.strategy` says where it is.

An unreachable MLflow is an Error measurement retried with back-off: it never leads to a
rollout, and a verified version waits for MLflow before it is recorded as promoted.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import timedelta

from . import approval, canary, controls, drift, shadow, verification
from .agreement import PREDICTION_AGREEMENT
from .alias_claim import claim
from .events import Reason
from .gates import evaluate
from .live_values import MEMORY_WORKING_SET, memory_values
from .manifests import Role
from .offline import evaluate_offline
from .promotion_pass import Deps, ModelPromotion, PassResult, ReconcilePass, digest
from .registry import NotFound, RegistryUnavailable, Unauthorized
from .rollback import start_rollback, watch_rollback
from .spec import Approval, Strategy, Verification
from .status import (
    CONCLUDED,
    SAMPLES_LIMIT,
    Candidate,
    ConditionType,
    MeasurementPhase,
    PromotionPhase,
    RolloutProgress,
    StrategyStatus,
    VerificationProgress,
    VerificationSample,
    VersionRef,
    rfc3339,
)

log = logging.getLogger(__name__)

_MAX_STEPS_PER_PASS = 4
# Phases in which the candidate's pods may be serving (awaiting approval: before promotion).
_CANDIDATE_APPLIED = frozenset(
    {PromotionPhase.ROLLING_OUT, PromotionPhase.VERIFYING, PromotionPhase.AWAITING_APPROVAL}
)


async def reconcile(promotion: ModelPromotion, deps: Deps) -> PassResult:
    """Advance the promotion as far as possible now; returns the complete new status."""
    run = ReconcilePass(promotion, deps)
    asked = promotion.asked
    if asked is not None and not controls.handled(run, asked.request.id):
        await _grant(run, await controls.handle(run, asked))
    if controls.hold(run):  # spec.paused: only spec edits to the workload land
        if run.phase is PromotionPhase.ROLLING_BACK:  # a rollback (an abort, an undo) goes on
            await watch_rollback(run)
        await _converge(run)
        run.status.observed_generation = promotion.generation
        return run.result
    retry = run.status.retry
    if retry is not None and run.now < retry.next_attempt_at:
        return run.result
    desired = await _desired_version(run)
    if desired is not None and _is_new_attempt(run, desired):
        await _start_attempt(run, desired)
    for _ in range(_MAX_STEPS_PER_PASS):  # fall through finished steps; each returns to wait
        before = run.phase
        step = _STEPS.get(run.phase)
        if step is None:  # Pending (nothing to do yet) or concluded
            break
        await step(run)
        if run.phase == before or run.phase in CONCLUDED:
            break
    await _converge(run)
    run.status.observed_generation = promotion.generation
    return run.result


def _is_new_attempt(run: ReconcilePass, desired: str) -> bool:
    """Another version or model; the version the gates rejected, with other gates; or a failed
    attempt whose spec was edited since (what failed may be fixed). Not the version an undo
    just put back (an alias the undo moved back to it names what already serves)."""
    candidate, status = run.status.candidate, run.status
    undone = bool(status.history) and status.history[0].action == "undo"
    if undone and run.phase in CONCLUDED and desired == status.serving_version:
        return False
    if candidate is None or candidate.version != desired:
        return True
    if candidate.model is not None and candidate.model != run.spec.model.name:
        return True
    if run.phase is PromotionPhase.REJECTED:
        return candidate.gates_digest != gates_digest(run)
    if candidate.spec_digest is not None:
        edited = candidate.spec_digest != spec_digest(run)
    else:  # a status from before spec digests
        edited = run.status.observed_generation != run.promotion.generation
    return run.phase is PromotionPhase.FAILED and edited


def gates_digest(run: ReconcilePass) -> str:
    return digest([gate.model_dump(mode="json") for gate in run.spec.gates])


def spec_digest(run: ReconcilePass) -> str:
    """Of the spec an attempt acts on: pausing and resuming are not edits."""
    return digest(run.spec.model_dump(mode="json", exclude={"paused"}))


async def _grant(run: ReconcilePass, granted: controls.Granted) -> None:
    """Carry out an accepted approve or retry (abort and undo are done in `controls`)."""
    if granted is controls.Granted.RETRY:
        await _start_attempt(run, run.candidate)
    elif granted is controls.Granted.APPROVED:
        stage = approval.stage(run)
        run.status.approval = None
        if stage is Approval.BEFORE_ROLLOUT:
            await _start_rollout(run)
        else:
            await _passed(run, approved=True)


async def _converge(run: ReconcilePass) -> None:
    """Whatever the phase, the serving objects follow the spec: an edit to replicas, image,
    resources, env… is applied to the version they run (and recorded in `status.workload`)."""
    if run.status.workload is None:
        legacy = _legacy_workload_version(run)
        if legacy is not None:
            await run.apply_version(legacy)
        return
    if not run.workload_is_current():
        await run.apply_version(run.status.workload.version)


def _legacy_workload_version(run: ReconcilePass) -> str | None:
    """A status written before `workload` existed: the version its phase says is applied."""
    if run.status.observed_generation == run.promotion.generation:
        return None  # nothing was edited since: leave the objects alone
    if run.phase in {PromotionPhase.ROLLING_OUT, PromotionPhase.VERIFYING}:
        return run.status.candidate_version
    return run.status.serving_version


async def _desired_version(run: ReconcilePass) -> str | None:
    """The version the spec asks for; an alias is looked up in MLflow."""
    model, scratch = run.spec.model, run.deps.scratch
    if model.version is not None:
        return model.version
    assert model.alias is not None
    checked = scratch.alias_checked_at
    due = checked is None or (run.now - checked).total_seconds() >= run.deps.alias_poll_seconds
    current = run.status.candidate_version
    if current is not None and not due:
        return current
    scratch.alias_checked_at = run.now
    try:
        found = await run.deps.registry.version_for_alias(model.name, model.alias)
    except NotFound:
        if current is None:
            run.enter(
                PromotionPhase.PENDING, f"alias {model.name}@{model.alias} is not set in MLflow"
            )
        return None
    except RegistryUnavailable as exc:
        if current is None:
            run.enter(PromotionPhase.PENDING, "waiting for MLflow to resolve the alias")
            run.backoff(str(exc))
        return None
    return found.version


async def _start_attempt(run: ReconcilePass, version: str) -> None:
    previous = run.status.candidate_version
    if previous is not None and run.phase not in CONCLUDED:
        run.conclude(PromotionPhase.FAILED, f"superseded by version {version}")
        if run.phase in _CANDIDATE_APPLIED:
            await _withdraw(run, previous)
    status = run.status
    status.candidate = Candidate(
        version=version, model=run.spec.model.name, started_at=run.now,
        spec_digest=spec_digest(run),
    )  # fmt: skip
    status.gates = []
    status.rollout = status.verification = status.retry = status.strategy = None
    status.approval = None
    run.deps.scratch.window = verification.LiveWindow()
    run.condition(ConditionType.GATES_PASSED, None, "Evaluating", f"checking version {version}")
    run.condition(ConditionType.VERIFIED, None, "NotStarted", "")
    run.enter(PromotionPhase.EVALUATING, f"evaluating gates of version {version}")
    run.deps.events.info(Reason.PROMOTION_STARTED, f"version {version}: checking offline gates")


async def _withdraw(run: ReconcilePass, superseded: str) -> None:
    """A superseded version never finished verification: nothing may keep serving it, so the
    last known-good version goes back (or, with none, the workload goes) before the next
    version is even evaluated."""
    run.deps.live.stop_smoke_load(run.promotion.name, run.promotion.namespace)
    await run.remove_sides()
    good = run.status.last_known_good_version
    if good is None:
        await run.remove_workload()
    else:
        await run.apply_version(good)
    run.deps.events.warn(
        Reason.SUPERSEDED, f"version {superseded} superseded before it was verified; "
        f"{f'version {good} restored' if good else 'its workload removed'}",
    )  # fmt: skip


# -- step 2: offline gates ------------------------------------------------------------------
async def _evaluate(run: ReconcilePass) -> None:
    spec, version = run.spec, run.candidate
    model, alias = spec.model.name, spec.promotion.alias
    try:
        owner = await claim(
            run.deps.registry, run.deps.cluster, model, alias,
            run.promotion.namespace, run.promotion.name,
        )  # fmt: skip
        result = await evaluate_offline(run.deps.registry, spec, version)
    except NotFound as exc:
        run.clear_backoff()
        run.conclude(PromotionPhase.FAILED, str(exc))
        run.enter(PromotionPhase.FAILED, f"version {version} of {model}: {exc}")
        run.deps.events.warn(Reason.MODEL_NOT_FOUND, run.status.message or "")
        return
    except RegistryUnavailable as exc:
        run.status.gates = [evaluate(gate, None, error=str(exc)) for gate in spec.gates]
        run.condition(ConditionType.GATES_PASSED, None, "MetricSourceError", str(exc))
        why = "" if isinstance(exc, Unauthorized) else "MLflow unreachable, "
        run.backoff(f"{why}nothing rolled out: {exc}")
        return
    if owner is not None:
        message = (
            f"alias {alias} of {model} is moved by ModelPromotion {owner}; nothing rolled out: "
            "give this one its own spec.promotion.alias, or delete that one"
        )
        run.clear_backoff()
        run.conclude(PromotionPhase.FAILED, message)
        run.enter(PromotionPhase.FAILED, message)
        run.deps.events.warn(Reason.ALIAS_OWNED, message)
        return
    run.clear_backoff()
    measurements = result.measurements
    assert run.status.candidate is not None
    run.status.candidate.run_id = result.version.run_id
    run.status.candidate.gates_digest = gates_digest(run)
    run.status.gates = list(measurements)
    if result.verdict is MeasurementPhase.SUCCESSFUL:
        passed = f"{len(measurements)} passed"
        run.condition(ConditionType.GATES_PASSED, True, "AllGatesPassed", passed)
        if approval.wanted(run, Approval.BEFORE_ROLLOUT):
            approval.wait(run, Approval.BEFORE_ROLLOUT)
            return
        await _start_rollout(run)
        return
    failing = next(m for m in measurements if m.phase is not MeasurementPhase.SUCCESSFUL)
    run.condition(ConditionType.GATES_PASSED, False, f"Gate{failing.phase.value}", failing.message)
    run.conclude(PromotionPhase.REJECTED, failing.message)
    run.enter(PromotionPhase.REJECTED, failing.message)
    run.deps.events.warn(Reason.REJECTED, f"version {version}: {failing.message}")
    await run.tag(version, {"outcome": "rejected", "reason": failing.message})


# -- step 3 and 4: roll out, wait for ready pods --------------------------------------------
async def _start_rollout(run: ReconcilePass) -> None:
    version = run.candidate
    await _remember_champion(run)
    message = await _roll_out_candidate(run)
    _await_rollout(run, message)
    run.deps.events.info(Reason.ROLLING_OUT, f"version {version}: gates passed; {message}")


async def _roll_out_candidate(run: ReconcilePass) -> str:
    """The candidate's pods, as the strategy places them; returns what is happening."""
    strategy = run.spec.rollout.strategy
    if strategy is not Strategy.REPLACE and run.status.serving_version is None:
        why = f"{strategy.value} needs a serving champion and none serves yet: replace instead"
        run.status.strategy = StrategyStatus(name=Strategy.REPLACE.value, summary=why)
        strategy = Strategy.REPLACE
    if strategy is Strategy.SHADOW:
        return await shadow.start(run)
    if strategy is Strategy.CANARY:
        return await canary.apply_step(run, 0)
    await run.apply_version(run.candidate)
    return f"rolling out version {run.candidate}"


def _await_rollout(run: ReconcilePass, message: str) -> None:
    """Wait (RollingOut) for pods just applied, within the progress deadline; the next
    verification opens a new window on them."""
    deadline = run.now + timedelta(seconds=run.spec.rollout.progress_deadline_seconds)
    run.status.rollout = RolloutProgress(started_at=run.now, deadline=deadline)
    run.status.verification = None
    run.deps.scratch.window.last = None
    run.condition(ConditionType.PROGRESSING, True, "RolloutStarted", message)
    run.enter(PromotionPhase.ROLLING_OUT, message)


def _candidate_role(run: ReconcilePass) -> Role:
    """Where the candidate's pods are now: beside the champion's, or in the main Deployment."""
    strategy = run.status.strategy
    if strategy is None or strategy.stage == "switch" or strategy.name == Strategy.REPLACE:
        return "stable"
    return "shadow" if strategy.name == Strategy.SHADOW else "canary"


def _as_side(run: ReconcilePass) -> str:
    """How the candidate's pods roll out, for the status message: as a shadow, a canary step."""
    role, strategy = _candidate_role(run), run.status.strategy
    if role == "canary" and strategy is not None:
        return f" as a canary (step {strategy.step}/{strategy.steps}, {strategy.weight}%)"
    return f" as a {role}" if role != "stable" else ""


def _is_shadowing(run: ReconcilePass) -> bool:
    return _candidate_role(run) == "shadow"


async def _remember_champion(run: ReconcilePass) -> None:
    """What the serving version does on live traffic, read from its pods before the rollout
    replaces them: the reference of a `prediction_shift` gate (its label shares) and of a live
    memory gate with a baseline (its working set). Lost on an operator restart (then those
    gates have no data, and their onNoData decides)."""
    gates = run.spec.rollout.verification.gates
    champion = run.status.serving_version
    wants_labels = any(g.metric == drift.PREDICTION_SHIFT for g in gates)
    wants_memory = any(g.baseline is not None for g in gates)
    if champion is None or not (wants_labels or wants_memory):
        return
    try:
        sample = await run.deps.live.sample(
            run.promotion.name, run.promotion.namespace, champion, profiles=wants_labels
        )
    except Exception as exc:  # no champion pods (scaled to zero?), no profile: no reference
        log.info("no live champion to compare with", extra={"error": str(exc)})
        return
    window = run.deps.scratch.window
    rows, labels = drift.live_predictions(sample)
    if rows >= drift.MIN_ROWS:
        window.champion_predictions = drift.label_shares(labels)
    window.champion_memory_mb = memory_values(sample)[MEMORY_WORKING_SET]


async def _watch_rollout(run: ReconcilePass) -> None:
    version, name, namespace = run.candidate, run.promotion.name, run.promotion.namespace
    state = await run.deps.cluster.rollout_state(name, namespace, version, _candidate_role(run))
    rollout = run.status.rollout
    overdue = rollout is not None and run.now > rollout.deadline
    if state.failed is None and not state.ready and overdue:
        seconds = run.spec.rollout.progress_deadline_seconds
        state = type(state)(False, f"no ready pods within {seconds}s ({state.detail})")
    if state.failed is not None:
        await start_rollback(run, f"rollout of version {version} failed: {state.failed}")
        return
    if not state.ready:
        run.status.message = f"rolling out version {version}{_as_side(run)}: {state.detail}"
        return
    run.condition(ConditionType.PROGRESSING, True, "RolloutComplete", f"version {version} ready")
    strategy = run.status.strategy
    if strategy is not None and strategy.stage == "switch":
        if strategy.name == Strategy.SHADOW:  # verified in the shadow, removed by the switch
            await _promote(run)
            return
        await run.remove_sides()  # the candidate serves from the main Deployment now
    run.status.verification = VerificationProgress(started_at=run.now)
    live = _verification(run)
    if live.duration_seconds == 0 or not live.gates:
        await _passed(run)
        return
    _keep_smoke_load(run)
    where = f" ({strategy.summary})" if strategy is not None and strategy.summary else ""
    run.enter(PromotionPhase.VERIFYING, f"verifying version {version} live{where}")


async def _passed(run: ReconcilePass, *, approved: bool = False) -> None:
    """Verification passed: promote, or go on to the strategy's next stage. Before the last
    stage (the promotion; a shadow's switch) a `beforePromotion` approval waits for a person."""
    strategy, role = run.status.strategy, _candidate_role(run)
    if role != "canary" and not approved and approval.wanted(run, Approval.BEFORE_PROMOTION):
        approval.wait(run, Approval.BEFORE_PROMOTION)
        return
    if strategy is None or role == "stable":
        await _promote(run)
        return
    if strategy.name == Strategy.SHADOW:
        message = await shadow.switch(run)
    else:
        message = await canary.apply_step(run, strategy.step or 1)  # step is 1-based: the next
    _await_rollout(run, message)


def _keep_smoke_load(run: ReconcilePass) -> None:
    """Every verifying pass, not only the first: an operator restart ends the load, and a
    quiet endpoint would then read as no data and roll a healthy version back."""
    live = run.spec.rollout.verification
    if live.smoke_load_rps > 0:
        name, namespace = run.promotion.name, run.promotion.namespace
        model = run.spec.model.name
        # A shadow is reached only through the champion, which mirrors the load to it.
        target = run.status.serving_version if _is_shadowing(run) else None
        version = target or run.candidate
        run.deps.live.ensure_smoke_load(name, namespace, version, model, live.smoke_load_rps)


# -- step 5: live verification --------------------------------------------------------------
def _verification(run: ReconcilePass) -> Verification:
    """The spec's verification, without the gates that only a shadow can measure when the
    candidate is not in one (the first version, with no champion to agree with; or the canary
    at its full step)."""
    live = run.spec.rollout.verification
    if _is_shadowing(run):
        return live
    gates = [g for g in live.gates if g.metric != PREDICTION_AGREEMENT]
    return live if len(gates) == len(live.gates) else live.model_copy(update={"gates": gates})


async def _verify(run: ReconcilePass) -> None:
    version, name, namespace = run.candidate, run.promotion.name, run.promotion.namespace
    live = _verification(run)
    progress = run.status.verification
    if progress is not None and progress.passed:
        await _promote(run)  # verified earlier; only the MLflow write is left
        return
    state = await run.deps.cluster.rollout_state(name, namespace, version, _candidate_role(run))
    if state.failed is not None:
        await start_rollback(run, f"version {version} failed while verifying: {state.failed}")
        return
    if progress is None:
        progress = run.status.verification = VerificationProgress(started_at=run.now)
    await canary.follow_stable(run)
    _keep_smoke_load(run)
    if not verification.due(progress, run.now, live.interval_seconds):
        return
    progress.last_measured_at = run.now
    measured = await verification.measure(
        run.deps.live, name, namespace, version, verification=live, progress=progress,
        window=run.deps.scratch.window, shadow=_is_shadowing(run),
    )  # fmt: skip
    if _is_shadowing(run):
        await shadow.observe(run)
    if measured is None:
        return  # the first sample (or the first after an operator restart) opens the window
    finite = {k: v if v is None or math.isfinite(v) else None for k, v in measured.values.items()}
    sample = VerificationSample(at=run.now, values=finite)  # JSON (and the API) has no NaN
    progress.samples = [*progress.samples, sample][-SAMPLES_LIMIT:]
    offline = [m for m in run.status.gates if m.source != "live"]
    run.status.gates = [*offline, *measured.measurements]
    if measured.verdict is None:
        where = f" ({run.status.strategy.summary})" if run.status.strategy else ""
        run.status.message = f"verifying version {version}: {measured.taken}/{live.count}{where}"
        return
    run.deps.live.stop_smoke_load(name, namespace)
    if measured.verdict is MeasurementPhase.SUCCESSFUL:
        run.condition(ConditionType.VERIFIED, True, "OnlineGatesPassed", "live verification passed")
        await _passed(run)
        return
    culprit = measured.culprit
    verdict = measured.verdict.value
    run.condition(ConditionType.VERIFIED, False, f"Online{verdict}", culprit.message)
    await start_rollback(run, f"live verification {verdict.lower()}: {culprit.message}")


# -- step 6: promote, or roll back ----------------------------------------------------------
async def _promote(run: ReconcilePass) -> None:
    version, alias = run.candidate, run.spec.promotion.alias
    try:
        await run.deps.registry.set_alias(run.spec.model.name, alias, version)
    except (RegistryUnavailable, NotFound) as exc:
        run.enter(PromotionPhase.VERIFYING, f"version {version} verified")
        progress = run.status.verification or VerificationProgress(started_at=run.now)
        progress.passed = True
        run.status.verification = progress
        run.backoff(f"verified; waiting for MLflow to record the promotion: {exc}")
        return
    run.clear_backoff()
    summary = [{"name": m.name, "phase": m.phase.value, "value": m.value} for m in run.status.gates]
    tags = {"outcome": "promoted", "promotedAt": rfc3339(run.now), "gates": json.dumps(summary)}
    await run.tag(version, tags)
    run.status.serving = VersionRef(version=version)
    run.status.last_known_good = VersionRef(version=version)
    message = f"version {version} promoted; alias {alias} set"
    run.condition(ConditionType.AVAILABLE, True, "Promoted", message)
    run.condition(ConditionType.ROLLED_BACK, False, "Promoted", "")
    run.conclude(PromotionPhase.PROMOTED, "all gates passed")
    run.enter(PromotionPhase.PROMOTED, message)
    run.deps.events.info(Reason.PROMOTED, message)


async def _await_approval(run: ReconcilePass) -> None:
    """Waiting for a person: past the deadline the promotion is rejected (nothing rolled out)
    or rolled back; a candidate that fails meanwhile is rolled back without waiting."""
    stage, expired = approval.stage(run), approval.expired(run)
    if stage is Approval.BEFORE_PROMOTION:
        name, namespace, version = run.promotion.name, run.promotion.namespace, run.candidate
        state = await run.deps.cluster.rollout_state(name, namespace, version, _candidate_role(run))
        if state.failed is not None or expired is not None:
            run.status.approval = None
            why = expired or f"version {version} failed while awaiting approval: {state.failed}"
            if expired is not None:
                run.deps.events.warn(Reason.APPROVAL_EXPIRED, why)
            await start_rollback(run, why)
        return
    if expired is not None:
        run.status.approval = None
        run.conclude(PromotionPhase.REJECTED, expired)
        run.enter(PromotionPhase.REJECTED, expired)
        run.deps.events.warn(Reason.APPROVAL_EXPIRED, expired)
        await run.tag(run.candidate, {"outcome": "rejected", "reason": expired})


_STEPS: dict[PromotionPhase, Callable[[ReconcilePass], Awaitable[None]]] = {
    PromotionPhase.EVALUATING: _evaluate,
    PromotionPhase.ROLLING_OUT: _watch_rollout,
    PromotionPhase.VERIFYING: _verify,
    PromotionPhase.AWAITING_APPROVAL: _await_approval,
    PromotionPhase.ROLLING_BACK: watch_rollback,
}
