"""A person's hand on a promotion: `spec.paused`, and the requests of `control.py`.

Each request is judged against the status the pass starts from and recorded, accepted or not,
in `status.requests` (so the plugin can print the operator's answer, and an id is handled
once). Abort and undo act here; approve and retry need the steps of `reconcile.py`, which acts
on the `Granted` this returns.
"""

from __future__ import annotations

import enum

from .control import (
    RETRYABLE,
    RUNNING,
    Action,
    ControlRequest,
    no_undo_target,
    undo_target,
)
from .events import Reason
from .promotion_pass import Asked, ReconcilePass
from .rollback import start_rollback
from .status import (
    CONCLUDED,
    REQUESTS_LIMIT,
    ConditionType,
    ControlRecord,
    PromotionPhase,
    VersionRef,
)


class Granted(enum.Enum):
    """What `reconcile` still has to do for an accepted request."""

    NOTHING = enum.auto()
    APPROVED = enum.auto()  # go on past the approval the promotion waits for
    RETRY = enum.auto()  # start the candidate's attempt again


def handled(run: ReconcilePass, request_id: str) -> bool:
    return run.status.answer(request_id) is not None


async def handle(run: ReconcilePass, asked: Asked) -> Granted:
    """Judge and record one new request; abort and undo are carried out here."""
    request, by = asked.request, asked.by
    refusal = _refusal(run, request)
    if refusal is not None:
        _record(run, asked, accepted=False, message=refusal)
        run.deps.events.warn(Reason.REQUEST_REFUSED, f"{request.action} by {by}: {refusal}")
        return Granted.NOTHING
    why = f": {request.reason}" if request.reason else ""
    if request.action is Action.APPROVE:
        stage = run.status.approval.stage if run.status.approval else "approval"
        message = f"version {run.candidate} approved ({stage}) by {by}"
        _record(run, asked, accepted=True, message=message)
        run.deps.events.info(Reason.APPROVED, message)
        return Granted.APPROVED
    if request.action is Action.RETRY:
        message = f"version {run.candidate} evaluated again, asked by {by}"
        _record(run, asked, accepted=True, message=message)
        run.deps.events.info(Reason.RETRIED, message)
        return Granted.RETRY
    if request.action is Action.ABORT:
        message = f"aborted by {by}{why}"
        _record(run, asked, accepted=True, message=f"version {run.candidate} {message}")
        run.deps.events.warn(Reason.ABORTED, f"version {run.candidate} {message}")
        run.status.approval = None
        await start_rollback(run, message, action=Action.ABORT.value, requested_by=by)
        return Granted.NOTHING
    target = undo_target(run.status, request.to_version)
    assert target is not None  # _refusal checked it
    serving = run.status.serving_version
    message = f"undo by {by}{why}: version {target} serves again (version {serving} replaced)"
    _record(run, asked, accepted=True, message=message)
    run.deps.events.warn(Reason.UNDONE, message)
    run.status.last_known_good = VersionRef(version=target)  # what the rollback restores
    await start_rollback(run, message, action=Action.UNDO.value, requested_by=by, replaced=serving)
    return Granted.NOTHING


def _refusal(run: ReconcilePass, request: ControlRequest) -> str | None:
    """Why the request cannot be carried out now; None when it can."""
    candidate = run.status.candidate_version
    if request.version is not None and request.version != candidate:
        return (
            f"it was asked for version {request.version}, and the promotion is now about "
            f"version {candidate or 'none'}: look again (kubectl mlrollout get) and ask again"
        )
    if run.spec.paused and request.action in {Action.APPROVE, Action.RETRY}:
        return "the promotion is paused (spec.paused): resume it first"
    return _PHASE_RULES[request.action](run, request)


def _approve_refusal(run: ReconcilePass, _: ControlRequest) -> str | None:
    phase = run.phase
    ok = phase is PromotionPhase.AWAITING_APPROVAL
    return None if ok else f"nothing awaits approval (phase {phase.value})"


def _abort_refusal(run: ReconcilePass, _: ControlRequest) -> str | None:
    phase = run.phase
    if phase in RUNNING:
        return None
    return f"no promotion is running (phase {phase.value}); undo goes back to a known-good one"


def _retry_refusal(run: ReconcilePass, _: ControlRequest) -> str | None:
    phase = run.phase
    if phase in RETRYABLE:
        return None
    return f"retry applies to a rejected, rolled back or failed version (phase {phase.value})"


def _undo_refusal(run: ReconcilePass, request: ControlRequest) -> str | None:
    if run.phase not in CONCLUDED:
        return f"a promotion is running (phase {run.phase.value}): abort it first"
    if undo_target(run.status, request.to_version) is None:
        return no_undo_target(run.status, request.to_version)
    return None


_PHASE_RULES = {
    Action.APPROVE: _approve_refusal,
    Action.ABORT: _abort_refusal,
    Action.RETRY: _retry_refusal,
    Action.UNDO: _undo_refusal,
}


def _record(run: ReconcilePass, asked: Asked, *, accepted: bool, message: str) -> None:
    record = ControlRecord(
        id=asked.request.id,
        action=asked.request.action.value,
        requested_by=asked.by,
        requested_at=asked.request.at,
        handled_at=run.now,
        accepted=accepted,
        message=message,
    )
    run.status.requests = [record, *run.status.requests][:REQUESTS_LIMIT]


# -- spec.paused ----------------------------------------------------------------------------
def hold(run: ReconcilePass) -> bool:
    """True while `spec.paused` holds the promotion where it is. Resuming moves its clocks (the
    progress deadline, an approval's deadline) on by the time it was held, and the next
    verification round opens a new window (counters across the pause would blur it)."""
    status = run.status
    if run.spec.paused:
        if status.paused_at is None:
            status.paused_at = run.now
            where = run.phase.value
            message = f"paused in {where}: nothing moves until spec.paused is false"
            run.condition(ConditionType.PAUSED, True, "Paused", message)
            run.status.message = message
            run.deps.live.stop_smoke_load(run.promotion.name, run.promotion.namespace)
            run.deps.events.info(Reason.PAUSED, message)
        return True
    if status.paused_at is None:
        return False
    held = run.now - status.paused_at
    status.paused_at = None
    if status.rollout is not None:
        status.rollout.deadline += held
    if status.approval is not None and status.approval.deadline is not None:
        status.approval.deadline += held
    if status.rollback is not None:
        status.rollback.started_at += held
    if status.verification is not None:
        status.verification.last_measured_at = run.now
        run.deps.scratch.window.last = None
    message = f"resumed in {run.phase.value} after {held.total_seconds():.0f}s"
    run.condition(ConditionType.PAUSED, False, "Resumed", message)
    run.status.message = message
    run.deps.events.info(Reason.RESUMED, message)
    return False
