"""`spec.rollout.approval`: a promotion that waits for a person, in phase AwaitingApproval.

`beforeRollout` waits once the offline gates passed, before any pod changes; `beforePromotion`
once live verification passed, before the alias moves (with a shadow: before the candidate
replaces the champion). `kubectl mlrollout approve` lets it go on (`controls.py`); past
`approvalDeadlineSeconds` the promotion is rejected, or rolled back.
"""

from __future__ import annotations

from datetime import timedelta

from .events import Reason
from .promotion_pass import ReconcilePass
from .spec import Approval
from .status import ApprovalStatus, PromotionPhase

_WHAT = {
    Approval.BEFORE_ROLLOUT: "its offline gates passed; it waits for approval before it rolls out",
    Approval.BEFORE_PROMOTION: "it passed live verification; it waits for approval before it is "
    "promoted",
}


def wanted(run: ReconcilePass, stage: Approval) -> bool:
    return run.spec.rollout.approval is stage


def wait(run: ReconcilePass, stage: Approval) -> None:
    seconds = run.spec.rollout.approval_deadline_seconds
    deadline = run.now + timedelta(seconds=seconds) if seconds else None
    run.status.approval = ApprovalStatus(stage=stage.value, requested_at=run.now, deadline=deadline)
    name, namespace = run.promotion.name, run.promotion.namespace
    until = f", within {seconds}s" if seconds else ""
    message = (
        f"version {run.candidate}: {_WHAT[stage]} "
        f"(kubectl mlrollout approve {name} -n {namespace}{until})"
    )
    run.enter(PromotionPhase.AWAITING_APPROVAL, message)
    run.deps.events.info(Reason.AWAITING_APPROVAL, message)


def stage(run: ReconcilePass) -> Approval | None:
    approval = run.status.approval
    return Approval(approval.stage) if approval is not None else None


def expired(run: ReconcilePass) -> str | None:
    """Why the wait is over without an approval; None while it may still come."""
    approval = run.status.approval
    if approval is None or approval.deadline is None or run.now < approval.deadline:
        return None
    seconds = run.spec.rollout.approval_deadline_seconds
    return f"version {run.candidate} was not approved within {seconds}s"
